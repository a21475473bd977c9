import Compute
import Foundation
import Graph
import Models

/// Trainable parameters on a device, with their Adam state, shared by every plan that binds them.
/// Names are the weight-file names ("main.0.weight"); running statistics are stored too (updated
/// in place by training-mode batch norm) but never optimised.
public final class ParameterStore {
  public struct Entry {
    public let shape: [Int]
    public let value: TensorRef
    public let m: TensorRef
    public let v: TensorRef
    public var trainable: Bool
  }

  public let device: Device
  public private(set) var entries: [String: Entry] = [:]
  public let names: [String]
  public let metadata: [String: String]

  /// `frozen`: nothing is trainable (a fixed network such as VGG19 for a content loss).
  public init(_ weights: WeightSet, device: Device, frozen: Bool = false) throws {
    self.device = device
    metadata = weights.metadata
    names = weights.tensors.keys.sorted()
    for n in names {
      let t = weights.tensors[n]!
      let trainable = !frozen && !(n.hasSuffix("running_mean") || n.hasSuffix("running_var"))
      let value = try device.tensor(t.data, shape: t.shape)
      if trainable {
        let m = try device.zeros(t.shape), v = try device.zeros(t.shape)
        try device.write([Float](repeating: 0, count: t.data.count), to: m)
        try device.write([Float](repeating: 0, count: t.data.count), to: v)
        entries[n] = Entry(shape: t.shape, value: value, m: m, v: v, trainable: true)
      } else {
        // No optimizer state: m and v are never read for an entry that is not trainable.
        entries[n] = Entry(shape: t.shape, value: value, m: value, v: value, trainable: false)
      }
    }
  }

  /// Installs a binder on `g` that maps every parameter a layer asks for to this store's tensor.
  /// Returns the values it created, by name (the trainable ones are what to differentiate).
  @discardableResult
  public func bind(_ g: Graph) -> () -> [String: Value] {
    var bound: [String: Value] = [:]
    let entries = self.entries
    g.parameterBinder = { name, shape, _ in
      if let v = bound[name] { return v }
      guard let e = entries[name] else { throw WeightsError("parameter store has no \(name)") }
      guard e.shape == shape else { throw WeightsError("\(name): store shape \(e.shape), layer wants \(shape)") }
      let v = g.external(e.value, name: name)
      bound[name] = v
      return v
    }
    return { bound }
  }

  /// Adam's bias corrections for step t as the adam op reads them: [lr·√(1−β2ᵗ)/(1−β1ᵗ), ε·√(1−β2ᵗ)].
  public static func writeAdamHyper(step t: Int, lr: Float, beta1: Float, beta2: Float, eps: Float = 1e-8,
                                    device: Device, hyper: TensorRef) throws {
    let h = Adam.hyper(step: t, learningRate: lr, beta1: beta1, beta2: beta2, eps: eps)
    try device.write([h.alpha, h.eps], to: hyper)
  }

  /// Adds one in-place Adam update per trainable parameter to `g` (parameter, m and v written
  /// where they live), for a plan that updates a network mid-way. `parameters` are the values a
  /// `bind` made; nodes after these read the updated tensors only through a fresh `bind`.
  public func adamUpdate(in g: Graph, parameters: [String: Value], gradients: [String: Value], hyper: Value,
                         beta1: Float, beta2: Float) throws {
    for name in names {
      guard let e = entries[name], e.trainable, let p = parameters[name], let grad = gradients[name] else { continue }
      let m = g.external(e.m, name: "\(name).adam_m"), v = g.external(e.v, name: "\(name).adam_v")
      try g.apply(.adam(count: e.shape.reduce(1, *), beta1: beta1, beta2: beta2, limit: .infinity),
                  [p, grad, m, v, hyper], into: [p, m, v])
    }
  }

  /// One Adam step (PyTorch semantics) on every trainable parameter that has a gradient.
  public func adamStep(step t: Int, lr: Float, beta1: Float, beta2: Float, eps: Float = 1e-8,
                       gradients: [String: TensorRef], hyper: TensorRef) throws {
    try Self.writeAdamHyper(step: t, lr: lr, beta1: beta1, beta2: beta2, eps: eps, device: device, hyper: hyper)
    for n in names {
      guard let e = entries[n], e.trainable, let g = gradients[n] else { continue }
      let count = e.shape.reduce(1, *)
      try device.run(.adam(count: count, beta1: beta1, beta2: beta2, limit: .infinity),
                     inputs: [e.value, g, e.m, e.v, hyper], outputs: [e.value, e.m, e.v])
    }
  }

  /// Current values (and, with `optimizer`, the Adam moments as "NAME.adam_m" / "NAME.adam_v").
  public func snapshot(optimizer: Bool = false) throws -> [String: HostTensor] {
    var out: [String: HostTensor] = [:]
    for n in names {
      let e = entries[n]!
      out[n] = HostTensor(shape: e.shape, data: try device.values(e.value))
      if optimizer && e.trainable {
        out[n + ".adam_m"] = HostTensor(shape: e.shape, data: try device.values(e.m))
        out[n + ".adam_v"] = HostTensor(shape: e.shape, data: try device.values(e.v))
      }
    }
    return out
  }

  /// Restores values and optimizer moments from a snapshot (names must match).
  public func restore(_ t: [String: HostTensor]) throws {
    for n in names {
      let e = entries[n]!
      guard let v = t[n], v.shape == e.shape else { throw WeightsError("checkpoint lacks \(n) \(e.shape)") }
      try device.write(v.data, to: e.value)
      if e.trainable {
        if let m = t[n + ".adam_m"] { try device.write(m.data, to: e.m) }
        if let s = t[n + ".adam_v"] { try device.write(s.data, to: e.v) }
      }
    }
  }

  public var weightSet: WeightSet {
    get throws { WeightSet(tensors: try snapshot(), metadata: metadata, source: "parameter store") }
  }
}
