/// y = main(x) + shortcut(x), the skip connection of a residual block. The shortcut is the
/// identity (nil), a layer (PyTorch's 1x1 conv + BN "option B"), or `ZeroPadShortcut`
/// ("option A"). The ReLU that follows in a ResNet block is a separate layer.
public final class Residual: Layer {
    public let main: Layer
    public let shortcut: Layer?
    public var computesInputGradient = true
    private let shortcutAdapter = LayoutAdapter()
    private let gradientAdapter = LayoutAdapter()
    private let sumAdapter = LayoutAdapter()
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init(_ main: Layer, shortcut: Layer? = nil) {
        self.main = main
        self.shortcut = shortcut
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let a = main.forward(x, mode: mode)
        let b = shortcutAdapter.adapt(shortcut?.forward(x, mode: mode) ?? x, to: a.desc)
        let out = reuse(&output, a.desc)
        add(a, b, into: out)
        return out
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let shortcutGrad = shortcut?.backward(gradientAdapter.adapt(dy, to: shortcutOutputDesc(dy))) ?? dy
        let mainGrad = main.backward(dy)
        let out = reuse(&inputGradient, mainGrad.desc)
        add(mainGrad, sumAdapter.adapt(shortcutGrad, to: mainGrad.desc), into: out)
        return out
    }

    /// The layout the shortcut produced in forward (its gradient must come in that layout).
    private func shortcutOutputDesc(_ dy: Tensor) -> MemoryDesc {
        shortcutAdapter.lastSourceDesc ?? dy.desc
    }
}

/// out = a + b over the physical storage (same layout), 8 floats at a time.
func add(_ a: Tensor, _ b: Tensor, into out: Tensor) {
    precondition(a.desc == b.desc && a.desc == out.desc, "add needs equal layouts")
    let n = a.physicalCount
    let x = a.floats, y = b.floats, z = out.floats
    var i = 0
    while i &+ 8 <= n {
        let s = UnsafeRawPointer(x + i).load(as: SIMD8<Float>.self) + UnsafeRawPointer(y + i).load(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(z + i).storeBytes(of: s, as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < n { z[i] = x[i] + y[i]; i &+= 1 }
}
