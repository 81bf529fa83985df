/// Layers applied in order; backward runs them in reverse.
public final class Sequential: Layer {
    public private(set) var layers: [Layer]

    public init(_ layers: [Layer]) { self.layers = layers }

    /// Whether the first layer computes its input gradient (false for a whole model).
    public var computesInputGradient: Bool {
        get { layers.first?.computesInputGradient ?? true }
        set { layers.first?.computesInputGradient = newValue }
    }

    public var backwardReadsOutput: Bool { layers.last?.backwardReadsOutput ?? true }

    public func append(_ layer: Layer) { layers.append(layer) }

    /// Leading layers that training runs in evaluation mode and backward skips: a frozen
    /// backbone (`Model.freeze`), which then keeps no activations and takes no gradient work.
    /// The first layer after them computes no input gradient.
    public var frozenPrefix = 0 {
        didSet {
            if oldValue > 0, oldValue < layers.count { layers[oldValue].computesInputGradient = true }
            if frozenPrefix > 0, frozenPrefix < layers.count { layers[frozenPrefix].computesInputGradient = false }
        }
    }

    /// Indices i whose layer ran fused with the 2x2 max pooling at i + 1 in the last forward.
    private var fusedWithPool: Set<Int> = []

    /// How many layer + max pooling pairs the last forward ran fused.
    public var fusedPoolings: Int { fusedWithPool.count }

    /// In training, a batch norm (or conv + batch norm) followed by a 2x2 max pooling runs as
    /// one (`MaxPoolFusing`) where the engine can.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        fusedWithPool = []
        guard mode == .train, frozenPrefix > 0 else { return run(x, mode: mode, layers: 0..<layers.count) }
        return run(run(x, mode: .eval, layers: 0..<frozenPrefix), mode: .train, layers: frozenPrefix..<layers.count)
    }

    /// The frozen prefix's output (evaluation mode): what `forward(afterFrozenPrefix:mode:)`
    /// takes, and what a training run may keep instead of computing it again.
    public func forwardFrozenPrefix(_ x: Tensor) -> Tensor { run(x, mode: .eval, layers: 0..<frozenPrefix) }

    /// The layers after the frozen prefix, from its output `h`; backward then runs as usual.
    public func forward(afterFrozenPrefix h: Tensor, mode: Mode) -> Tensor {
        fusedWithPool = []
        return run(h, mode: mode, layers: frozenPrefix..<layers.count)
    }

    private func run(_ x: Tensor, mode: Mode, layers range: Range<Int>) -> Tensor {
        var h = x
        var i = range.lowerBound
        while i < range.upperBound {
            if mode == .train, i + 1 < range.upperBound, let layer = layers[i] as? MaxPoolFusing, let pool = layers[i + 1] as? Pool2d {
                let (out, fused) = layer.forwardTraining(h, thenPool: pool)
                if fused { fusedWithPool.insert(i) }
                h = out
                i += 2
            } else {
                h = layers[i].forward(h, mode: mode)
                i += 1
            }
        }
        return h
    }

    public func backward(_ dy: Tensor) -> Tensor {
        var g = dy
        var i = layers.count - 1
        while i >= frozenPrefix {
            if i > frozenPrefix, fusedWithPool.contains(i - 1), let layer = layers[i - 1] as? MaxPoolFusing {
                g = layer.backwardThroughPool(g)
                i -= 2
            } else {
                g = layers[i].backward(g)
                i -= 1
            }
        }
        return g
    }
}
