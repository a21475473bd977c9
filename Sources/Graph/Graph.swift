import Compute

/// A value in a graph: an input, a parameter, or the output of a node.
public struct Value: Hashable, Sendable {
  public let id: Int
}

/// A static dataflow graph of device ops, built once and compiled for a device.
///
/// Build with `input`, `parameter` and `apply`; mark what you want to read with `output`; then
/// `compile(on:)` places every value: parameters in one buffer uploaded once, inputs and outputs
/// pinned, intermediates sharing an arena by lifetime. The resulting `Plan` runs with no
/// device-memory allocations.
public final class Graph {
  public enum Kind: Sendable {
    case input
    case parameter([Float])
    case intermediate
    /// Memory owned outside the plan (trainable parameters, optimizer state shared by several
    /// plans); ops may update it in place.
    case external(TensorRef)
  }

  public struct ValueInfo: Sendable {
    public let shape: [Int]
    public let kind: Kind
    public let name: String
    public var count: Int { shape.reduce(1, *) }
  }

  public struct Node: Sendable {
    public let op: Op
    public let inputs: [Value]
    public let outputs: [Value]
  }

  public private(set) var values: [ValueInfo] = []
  public private(set) var nodes: [Node] = []
  public private(set) var outputs: [Value] = []

  /// When set, `parameter(_:shape:name:)` asks it first: a returned value (typically `external`)
  /// replaces the constant. Training binds every layer's weights to a parameter store this way,
  /// without the layers knowing.
  public var parameterBinder: ((_ name: String, _ shape: [Int], _ data: [Float]) throws -> Value?)?
  public private(set) var binderErrors: [Error] = []

  /// Values a rewrite (`fusingEpilogues`) left without a reader or writer: they get no memory of
  /// their own.
  public internal(set) var elided: Set<Int> = []

  public init() {}

  /// A rewritten copy: the same values and outputs, other nodes.
  init(rewriting g: Graph, nodes: [Node], elided: Set<Int>) {
    values = g.values
    outputs = g.outputs
    binderErrors = g.binderErrors
    self.nodes = nodes
    self.elided = g.elided.union(elided)
  }

  /// A value bound to existing device memory.
  public func external(_ t: TensorRef, name: String) -> Value {
    add(ValueInfo(shape: t.shape, kind: .external(t), name: name))
  }

  public func shape(_ v: Value) -> [Int] { values[v.id].shape }

  /// A value set from the host before each run.
  public func input(_ shape: [Int], name: String = "input") -> Value {
    add(ValueInfo(shape: shape, kind: .input, name: name))
  }

  /// A constant uploaded once at compile time.
  public func parameter(_ data: [Float], shape: [Int], name: String = "param") -> Value {
    precondition(data.count == shape.reduce(1, *), "\(name): \(data.count) values for shape \(shape)")
    if let binder = parameterBinder {
      do { if let v = try binder(name, shape, data) { return v } } catch { binderErrors.append(error) }
    }
    return add(ValueInfo(shape: shape, kind: .parameter(data), name: name))
  }

  /// Adds `op` writing into existing values (in-place updates of external memory, such as batch
  /// norm's running statistics).
  public func apply(_ op: Op, _ inputs: [Value], into outs: [Value]) throws {
    for (v, n) in zip(outs, op.outputCounts) where values[v.id].count < n {
      throw ComputeError.invalidArgument("\(op.kind): output \(values[v.id].name) too small")
    }
    nodes.append(Node(op: op, inputs: inputs, outputs: outs))
  }

  /// Adds `op` reading `inputs` and producing fresh values of `outputShapes`.
  @discardableResult
  public func apply(_ op: Op, _ inputs: [Value], outputShapes: [[Int]], name: String? = nil) throws -> [Value] {
    let counts = op.inputCounts
    guard counts.count == inputs.count else {
      throw ComputeError.invalidArgument("\(op.kind): \(inputs.count) graph inputs, op takes \(counts.count)")
    }
    for (v, n) in zip(inputs, counts) where values[v.id].count < n {
      throw ComputeError.invalidArgument("\(op.kind): input \(values[v.id].name) \(values[v.id].shape) too small")
    }
    let outs = outputShapes.map { add(ValueInfo(shape: $0, kind: .intermediate, name: name ?? op.kind)) }
    for (v, n) in zip(outs, op.outputCounts) where values[v.id].count < n {
      throw ComputeError.invalidArgument("\(op.kind): output shape \(values[v.id].shape) too small")
    }
    nodes.append(Node(op: op, inputs: inputs, outputs: outs))
    return outs
  }

  /// Marks `v` as a result: it keeps its own memory, never shared.
  public func output(_ v: Value) {
    if !outputs.contains(v) { outputs.append(v) }
  }

  private func add(_ info: ValueInfo) -> Value {
    values.append(info)
    return Value(id: values.count - 1)
  }
}
