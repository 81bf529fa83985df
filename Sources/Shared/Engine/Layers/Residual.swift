/// y = main(x) + shortcut(x), the skip connection of a residual block, optionally followed by
/// the block's ReLU (fused into the same pass). The shortcut is the identity (nil) or a layer
/// (PyTorch's 1x1 conv + BN, "option B").
public final class Residual: Layer {
    public let main: Layer
    public let shortcut: Layer?
    public let reluAfter: Bool
    public var computesInputGradient = true
    private let shortcutAdapter = LayoutAdapter()
    private let gradientAdapter = LayoutAdapter()
    private let sumAdapter = LayoutAdapter()
    /// The sum, kept in training for the ReLU's backward.
    private var savedSum: Tensor?
    private let forwardSum: TensorSum
    private let gradientSum = TensorSum(relu: false)
    private let reluGradient = ReLUGradient()

    public init(_ main: Layer, shortcut: Layer? = nil, reluAfter: Bool = false) {
        self.main = main
        self.shortcut = shortcut
        self.reluAfter = reluAfter
        forwardSum = TensorSum(relu: reluAfter)
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let a = main.forward(x, mode: mode)
        let b = shortcutAdapter.adapt(shortcut?.forward(x, mode: mode) ?? x, to: a.desc)
        // When the main branch's backward does not read its output, the sum overwrites it: one
        // activation less per block kept for backward (PyTorch's `out += identity`).
        let out = main.backwardReadsOutput ? Tensor(pooled: a.desc) : a
        forwardSum.run(a, b, into: out)
        savedSum = mode == .train ? out : nil
        return out
    }

    public func backward(_ dy: Tensor) -> Tensor {
        defer { savedSum = nil }
        var g = dy
        if reluAfter, let y = savedSum {
            g = Tensor(pooled: y.desc)
            reluGradient.run(dy: dy, output: y, into: g)
        }
        let shortcutGrad = shortcut?.backward(gradientAdapter.adapt(g, to: shortcutAdapter.lastSourceDesc ?? g.desc)) ?? g
        let mainGrad = main.backward(g)
        let out = Tensor(pooled: mainGrad.desc)
        let other = sumAdapter.adapt(shortcutGrad, to: mainGrad.desc)
        gradientSum.run(mainGrad, other, into: out)
        return out
    }
}
