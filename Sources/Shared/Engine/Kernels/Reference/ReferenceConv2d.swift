/// Naive kernels, generic over the element type: the oracle the oneDNN layers are tested
/// against, and (in Double) the subject of finite-difference gradient checks.
/// Layouts are plain row-major; clarity over speed.
public enum Reference {}

extension Reference {
    /// Geometry of a 2-D convolution or pooling window.
    public struct Window: Sendable {
        public var kernel: Int, stride: Int, padding: Int
        public init(kernel: Int, stride: Int = 1, padding: Int = 0) {
            self.kernel = kernel; self.stride = stride; self.padding = padding
        }
        public func outputSize(_ n: Int) -> Int { (n + 2 * padding - kernel) / stride + 1 }
    }

    /// y[n, o, i, j] = b[o] + sum over c in o's group, ky, kx of
    /// x[n, c, i*s + ky - p, j*s + kx - p] * w[o, c - group start, ky, kx].
    /// x: [N, C, H, W], w: [O, C/groups, k, k], b: [O] or empty. Returns y: [N, O, OH, OW].
    public static func conv2dForward<T: BinaryFloatingPoint>(_ x: [T], _ xs: [Int], _ w: [T], outChannels: Int,
                                                             bias b: [T], _ win: Window, groups: Int = 1) -> [T] {
        let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3])
        let (oh, ow, k) = (win.outputSize(h), win.outputSize(wd), win.kernel)
        let cg = c / groups, og = outChannels / groups
        var y = [T](repeating: 0, count: n * outChannels * oh * ow)
        for ni in 0..<n {
            for o in 0..<outChannels {
                let g = o / og
                for i in 0..<oh {
                    for j in 0..<ow {
                        var acc: T = b.isEmpty ? 0 : b[o]
                        for cc in 0..<cg {
                            let ci = g * cg + cc
                            for ky in 0..<k {
                                let yy = i * win.stride + ky - win.padding
                                guard yy >= 0 && yy < h else { continue }
                                for kx in 0..<k {
                                    let xx = j * win.stride + kx - win.padding
                                    guard xx >= 0 && xx < wd else { continue }
                                    acc += x[((ni * c + ci) * h + yy) * wd + xx] * w[((o * cg + cc) * k + ky) * k + kx]
                                }
                            }
                        }
                        y[((ni * outChannels + o) * oh + i) * ow + j] = acc
                    }
                }
            }
        }
        return y
    }

    /// Gradients of `conv2dForward` given dy: (dx, dw, db).
    public static func conv2dBackward<T: BinaryFloatingPoint>(_ x: [T], _ xs: [Int], _ w: [T], outChannels: Int,
                                                              _ dy: [T], _ win: Window, groups: Int = 1) -> (dx: [T], dw: [T], db: [T]) {
        let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3])
        let (oh, ow, k) = (win.outputSize(h), win.outputSize(wd), win.kernel)
        let cg = c / groups, og = outChannels / groups
        var dx = [T](repeating: 0, count: x.count), dw = [T](repeating: 0, count: w.count)
        var db = [T](repeating: 0, count: outChannels)
        for ni in 0..<n {
            for o in 0..<outChannels {
                let g = o / og
                for i in 0..<oh {
                    for j in 0..<ow {
                        let g0 = dy[((ni * outChannels + o) * oh + i) * ow + j]
                        db[o] += g0
                        for cc in 0..<cg {
                            let ci = g * cg + cc
                            for ky in 0..<k {
                                let yy = i * win.stride + ky - win.padding
                                guard yy >= 0 && yy < h else { continue }
                                for kx in 0..<k {
                                    let xx = j * win.stride + kx - win.padding
                                    guard xx >= 0 && xx < wd else { continue }
                                    let xi = ((ni * c + ci) * h + yy) * wd + xx, wi = ((o * cg + cc) * k + ky) * k + kx
                                    dx[xi] += g0 * w[wi]
                                    dw[wi] += g0 * x[xi]
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw, db)
    }
}
