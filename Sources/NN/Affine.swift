import Compute
import Graph

/// y = alpha·x + beta element-wise (input/output range mapping, e.g. tanh's [-1, 1] to [0, 1]).
public struct Affine: Layer {
  public let alpha: Float, beta: Float
  public init(alpha: Float, beta: Float) { self.alpha = alpha; self.beta = beta }
  public func callAsFunction(_ x: Value, in g: Graph) throws -> Value {
    try g.apply(.scale(count: g.shape(x).reduce(1, *), alpha: alpha, beta: beta), [x], outputShapes: [g.shape(x)])[0]
  }
}
