import CDNNL

/// max(x, 0), element-wise, in the input's layout.
public final class ReLU: Layer {
    public var computesInputGradient = true
    private var savedInput: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init() {}

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let out = reuse(&output, x.desc)
        let n = x.physicalCount
        let src = x.floats, dst = out.floats
        var i = 0
        while i &+ 8 <= n {
            let v = UnsafeRawPointer(src + i).load(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(dst + i).storeBytes(of: v.replacing(with: 0, where: v .< 0), as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < n { dst[i] = max(src[i], 0); i &+= 1 }
        savedInput = mode == .train ? x : nil
        return out
    }

    /// dx = dy where x > 0, else 0 (branch-free).
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = savedInput else { fatalError("ReLU.backward without a training forward") }
        precondition(dy.desc == x.desc, "ReLU.backward: gradient layout differs from the input's")
        let dx = reuse(&inputGradient, x.desc)
        let n = x.physicalCount
        let src = x.floats, g = dy.floats, dst = dx.floats
        var i = 0
        while i &+ 8 <= n {
            let v = UnsafeRawPointer(src + i).load(as: SIMD8<Float>.self)
            let d = UnsafeRawPointer(g + i).load(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(dst + i).storeBytes(of: d.replacing(with: 0, where: v .<= 0), as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < n { dst[i] = src[i] > 0 ? g[i] : 0; i &+= 1 }
        return dx
    }
}
