/// [N, C, H, W] in any layout -> plain [N, C*H*W] in PyTorch's (row-major) element order.
public final class Flatten: Layer {
    public var computesInputGradient = true
    private let toPlain = LayoutAdapter()
    private let fromPlain = LayoutAdapter()
    private var inputDesc: MemoryDesc?

    public init() {}

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        inputDesc = x.desc
        let plain = toPlain.adapt(x, to: .plain(x.shape))
        return plain.reshaped([x.shape[0], x.count / x.shape[0]])
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let desc = inputDesc else { fatalError("Flatten.backward before forward") }
        return fromPlain.adapt(dy.reshaped(desc.dims), to: desc)
    }
}
