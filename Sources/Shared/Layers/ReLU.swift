import CDNNL

/// max(x, 0), element-wise, in the input's layout. (Where a ReLU follows a BatchNorm or a
/// residual sum, the models fuse it there instead.)
public final class ReLU: Layer {
    public var computesInputGradient = true
    private var savedOutput: Tensor?
    private var output: Tensor?

    public init() {}

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let out = layerOutput(&output, x.desc, mode)
        ElementWise.relu(x.floats, into: out.floats, count: x.physicalCount)
        savedOutput = mode == .train ? out : nil
        return out
    }

    /// dx = dy where the output is positive, else 0 (branch-free).
    public func backward(_ dy: Tensor) -> Tensor {
        guard let y = savedOutput else { fatalError("ReLU.backward without a training forward") }
        precondition(dy.desc == y.desc, "ReLU.backward: gradient layout differs from the output's")
        let dx = Tensor(pooled: y.desc)
        ElementWise.reluGradient(dy.floats, output: y.floats, into: dx.floats, count: y.physicalCount)
        return dx
    }
}

/// The element-wise loops of the engine: SIMD8, branch-free, split across cores.
/// Pointers must be 32-byte aligned (tensor storage is 64-byte aligned).
enum ElementWise {
    static func relu(_ x: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        nonisolated(unsafe) let (src, dst) = (x, y)
        parallelChunks(n) { r in
            var i = r.lowerBound
            while i &+ 8 <= r.upperBound {
                let v = UnsafeRawPointer(src + i).load(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dst + i).storeBytes(of: v.replacing(with: 0, where: v .< 0), as: SIMD8<Float>.self)
                i &+= 8
            }
            while i < r.upperBound { dst[i] = max(src[i], 0); i &+= 1 }
        }
    }

    /// dx = dy where y > 0 (y = relu output), else 0.
    static func reluGradient(_ dy: UnsafeMutablePointer<Float>, output y: UnsafeMutablePointer<Float>,
                             into dx: UnsafeMutablePointer<Float>, count n: Int) {
        nonisolated(unsafe) let (g, out, dst) = (dy, y, dx)
        parallelChunks(n) { r in
            var i = r.lowerBound
            while i &+ 8 <= r.upperBound {
                let v = UnsafeRawPointer(out + i).load(as: SIMD8<Float>.self)
                let d = UnsafeRawPointer(g + i).load(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dst + i).storeBytes(of: d.replacing(with: 0, where: v .<= 0), as: SIMD8<Float>.self)
                i &+= 8
            }
            while i < r.upperBound { dst[i] = out[i] > 0 ? g[i] : 0; i &+= 1 }
        }
    }

    /// z = a + b, or relu(a + b).
    static func add(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, into z: UnsafeMutablePointer<Float>,
                    count n: Int, relu: Bool) {
        nonisolated(unsafe) let (x, y, dst) = (a, b, z)
        parallelChunks(n) { r in
            var i = r.lowerBound
            while i &+ 8 <= r.upperBound {
                var s = UnsafeRawPointer(x + i).load(as: SIMD8<Float>.self) + UnsafeRawPointer(y + i).load(as: SIMD8<Float>.self)
                if relu { s.replace(with: 0, where: s .< 0) }
                UnsafeMutableRawPointer(dst + i).storeBytes(of: s, as: SIMD8<Float>.self)
                i &+= 8
            }
            while i < r.upperBound { let s = x[i] + y[i]; dst[i] = relu ? max(s, 0) : s; i &+= 1 }
        }
    }
}
