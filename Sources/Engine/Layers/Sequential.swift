/// Layers applied in order; backward runs them in reverse.
public final class Sequential: Layer {
    public private(set) var layers: [Layer]

    public init(_ layers: [Layer]) { self.layers = layers }

    /// Whether the first layer computes its input gradient (false for a whole model).
    public var computesInputGradient: Bool {
        get { layers.first?.computesInputGradient ?? true }
        set { layers.first?.computesInputGradient = newValue }
    }

    public func append(_ layer: Layer) { layers.append(layer) }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        var h = x
        for layer in layers { h = layer.forward(h, mode: mode) }
        return h
    }

    public func backward(_ dy: Tensor) -> Tensor {
        var g = dy
        for layer in layers.reversed() { g = layer.backward(g) }
        return g
    }
}
