import Compute
import Foundation

/// A graph compiled for one device: memory placed, parameters uploaded, every op's tensors
/// resolved. `run()` replays the ops without allocating device memory (beyond the device's reused
/// workspace, which settles after the first run), each op bound to its tensors once
/// (`Device.prepare`: on OpenCL, kernel objects with their arguments set at compile time).
public final class Plan {
  public let device: Device
  public let graph: Graph
  public let memory: Planner.Result
  let tensors: [TensorRef]
  let steps: [(op: Op, inputs: [TensorRef], outputs: [TensorRef])]
  /// The steps bound once (`Device.prepare`) and grouped for submission (`Device.group`); `run()`
  /// replays them.
  let prepared: [PreparedOp]
  // Held so the tensors' buffers stay alive.
  let buffers: [DeviceBuffer]

  /// What runs: `graph` with element-wise ops folded into convolution epilogues where the device
  /// supports them (`Graph.fusingEpilogues`), unless `fuse` is false or `MEND_FUSE=0`.
  public let executed: Graph

  public init(graph: Graph, device: Device, fuse: Bool = Plan.fuseByDefault) throws {
    self.graph = graph
    self.device = device
    let g = fuse ? graph.fusingEpilogues(where: device.supports) : graph
    executed = g
    let m = Planner.plan(g)
    memory = m
    let params = try device.makeBuffer(byteCount: max(4, m.parameterBytes))
    let pinned = try device.makeBuffer(byteCount: max(4, m.pinnedBytes))
    let arena = try device.makeBuffer(byteCount: max(4, m.arenaBytes))
    buffers = [params, pinned, arena]
    var ts: [TensorRef] = []
    if let e = g.binderErrors.first { throw e }
    for (id, info) in g.values.enumerated() {
      if case .external(let t) = info.kind {
        ts.append(t)
        continue
      }
      let p = m.placements[id]
      let buf = p.region == .parameters ? params : (p.region == .pinned ? pinned : arena)
      ts.append(TensorRef(buffer: buf, offset: p.offset, shape: info.shape))
    }
    tensors = ts
    for (id, info) in g.values.enumerated() {
      if case .parameter(let data) = info.kind { try device.write(data, to: ts[id]) }
    }
    device.declareConstant(params)
    steps = g.nodes.map { n in (n.op, n.inputs.map { ts[$0.id] }, n.outputs.map { ts[$0.id] }) }
    prepared = try device.group(steps.map { try device.prepare($0.op, inputs: $0.inputs, outputs: $0.outputs) })
  }

  /// Whether plans fold epilogues: `MEND_FUSE=0` turns it off (to compare counts and results).
  public static var fuseByDefault: Bool { ProcessInfo.processInfo.environment["MEND_FUSE"] != "0" }

  public func tensor(_ v: Value) -> TensorRef { tensors[v.id] }

  public func set(_ v: Value, _ data: [Float]) throws {
    guard data.count == tensors[v.id].count else {
      throw ComputeError.invalidArgument("\(graph.values[v.id].name): \(data.count) values for shape \(tensors[v.id].shape)")
    }
    try device.write(data, to: tensors[v.id])
  }

  public func read(_ v: Value) throws -> [Float] { try device.values(tensors[v.id]) }

  public func run() throws {
    for p in prepared { try p.run() }
  }

  /// "naive X MB -> planned Y MB" for logs.
  public var memorySummary: String {
    func mb(_ b: Int) -> String { String(format: "%.1f MB", Double(b) / 1e6) }
    return "activations: naive \(mb(memory.naiveArenaBytes)) -> planned \(mb(memory.arenaBytes)); "
      + "parameters \(mb(memory.parameterBytes)), pinned \(mb(memory.pinnedBytes))"
  }
}

extension Graph {
  public func compile(on device: Device, fuse: Bool = Plan.fuseByDefault) throws -> Plan {
    try Plan(graph: self, device: device, fuse: fuse)
  }
}

extension Graph {
  /// Floating-point operations of one run (multiply-add = 2).
  public var flops: Double { nodes.reduce(0) { $0 + $1.op.flops } }
}

extension Plan {
  /// Runs once, synchronising after every op, and returns the time per node (for profiling).
  public func runProfiled(now: () -> Double, runs: Int = 7) throws -> [(node: Int, op: Op, seconds: Double)] {
    // Each op synchronised and timed in `runs` whole runs; the median per op (single runs on a
    // shared machine swing by 2×).
    var times = [[Double]](repeating: [], count: steps.count)
    try device.synchronize()
    for _ in 0..<max(1, runs) {
      for (i, s) in steps.enumerated() {
        let t0 = now()
        try device.run(s.op, inputs: s.inputs, outputs: s.outputs)
        try device.synchronize()
        times[i].append(now() - t0)
      }
    }
    return steps.enumerated().map { i, s in (i, s.op, times[i].sorted()[times[i].count / 2]) }
  }
}
