/// The parameter-free "option A" shortcut of He et al.'s CIFAR ResNets (as in the widely used
/// `LambdaLayer`): keep every second row and column, and pad the channels with zeros,
/// `outChannels - inChannels` split evenly before and after:
/// `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad))`.
public final class ZeroPadShortcut: Layer {
    public let inChannels, outChannels: Int
    public var computesInputGradient = true
    private let toPlain = LayoutAdapter()
    private let fromPlain = LayoutAdapter()
    private let gradientToPlain = LayoutAdapter()
    private var inputDesc: MemoryDesc?

    public init(inChannels: Int, outChannels: Int) {
        precondition((outChannels - inChannels) % 2 == 0 && outChannels >= inChannels, "zero padding must split evenly")
        self.inChannels = inChannels
        self.outChannels = outChannels
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(c == inChannels, "ZeroPadShortcut expects \(inChannels) channels, got \(c)")
        inputDesc = x.desc
        let src = toPlain.adapt(x, to: .plain(x.shape))
        let (oh, ow) = ((h + 1) / 2, (w + 1) / 2)
        let out = Tensor(pooled: .plain([n, outChannels, oh, ow]))
        out.zero()
        let pad = (outChannels - inChannels) / 2
        let s = src.floats, d = out.floats
        for i in 0..<n { for ch in 0..<c { for y in 0..<oh { for xx in 0..<ow {
            d[((i * outChannels + ch + pad) * oh + y) * ow + xx] = s[((i * c + ch) * h + 2 * y) * w + 2 * xx]
        } } } }
        return out
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let desc = inputDesc else { fatalError("ZeroPadShortcut.backward before forward") }
        let (n, c, h, w) = (desc.dims[0], desc.dims[1], desc.dims[2], desc.dims[3])
        let g = gradientToPlain.adapt(dy, to: .plain(dy.shape))
        let (oh, ow) = (g.shape[2], g.shape[3])
        let pad = (outChannels - inChannels) / 2
        let dx = Tensor(pooled: .plain(desc.dims))
        dx.zero()
        let s = g.floats, d = dx.floats
        for i in 0..<n { for ch in 0..<c { for y in 0..<oh { for xx in 0..<ow {
            d[((i * c + ch) * h + 2 * y) * w + 2 * xx] = s[((i * outChannels + ch + pad) * oh + y) * ow + xx]
        } } } }
        return fromPlain.adapt(dx, to: desc)
    }
}
