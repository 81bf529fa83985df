/// Inverted dropout, PyTorch `nn.Dropout(p)`: in training each element is zeroed with
/// probability p and the survivors are scaled by 1/(1-p); evaluation is the identity.
/// The mask comes from the layer's own seeded generator, so runs repeat exactly.
public final class Dropout: Layer {
    public let probability: Float
    public var computesInputGradient = true
    /// The generator state is part of a checkpoint, so a resumed run draws the same masks.
    public var rng: SeededRNG
    private var mask: [Float] = []
    private var output: Tensor?

    public init(_ b: ModelBuilder, probability: Float) {
        precondition(probability >= 0 && probability < 1, "dropout probability must be in [0, 1)")
        self.probability = probability
        rng = SeededRNG(seed: b.rng.next())
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        guard mode == .train, probability > 0 else { return x }
        let out = reuse(&output, x.desc)
        let n = x.physicalCount
        if mask.count != n { mask = [Float](repeating: 0, count: n) }
        let keep = 1 / (1 - probability)
        let threshold = UInt64(Double(probability) * 0x1p53)
        for i in 0..<n { mask[i] = (rng.next() >> 11) < threshold ? 0 : keep }
        let src = x.floats, dst = out.floats
        mask.withUnsafeBufferPointer { m in for i in 0..<n { dst[i] = src[i] * m[i] } }
        return out
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard probability > 0 else { return dy }
        let dx = Tensor(pooled: dy.desc)
        let n = dy.physicalCount
        let g = dy.floats, dst = dx.floats
        mask.withUnsafeBufferPointer { m in for i in 0..<n { dst[i] = g[i] * m[i] } }
        return dx
    }
}
