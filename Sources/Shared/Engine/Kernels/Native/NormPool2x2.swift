/// Training-mode batch normalisation, an optional ReLU and 2x2 max pooling with stride 2
/// (`BatchNorm` then `Pool2d(.max, kernel: 2)`, as in cnn5 and VGG) in two passes forward and
/// two backward, on the channels-innermost layouts of `MaxPool2x2`.
///
/// Apart, the layers read and write the full-size activation about six times forward (oneDNN's
/// statistics and normalisation, the pooling) and eight times backward. Here forward reads it
/// twice (statistics; normalise, cut and pool) and writes only the pooled quarter; backward
/// reads it once and writes the input gradient once, the gradient sums coming from the pooled
/// quarter alone: the pooled gradient reaches only each window's winner, so the other three
/// quarters contribute nothing to them.
///
/// Per channel c, with M samples, mean mu, sigma = sqrt(var + eps), xhat = (x - mu) / sigma:
/// forward y = max over the window of relu(gamma / sigma * x + beta - gamma * mu / sigma);
/// backward, with g the pooled gradient at each window's winner (0 where the ReLU cut it),
/// S1 = sum g, S2 = sum g * xhat:
/// dx = gamma / sigma * (g - S1 / M - xhat * S2 / M), dgamma = S2, dbeta = S1.
///
/// Per-channel vectors (`[Float]` arguments) have `passes.paddedChannels` entries: blocked layouts
/// round the channels up to whole blocks, whose padding lanes get zero coefficients.
struct NormPool2x2 {
    let pool: MaxPool2x2
    /// The statistics pass and the channel sums, shared with the unpooled batch norm.
    let passes: NormPasses

    /// The geometry of `x`, or nil where `MaxPool2x2` does not handle its layout.
    init?(_ x: MemoryDesc) {
        guard let pool = MaxPool2x2(x), let passes = NormPasses(x) else { return nil }
        self.pool = pool
        self.passes = passes
    }

    private var blocks: Int { passes.blocks }
    var pooledCount: Int { pool.outer * pool.outHeight * pool.outWidth * pool.lanes }

    private typealias V = SIMD8<Float>

    // MARK: - Forward

    /// y = maxpool(relu?(scale * x + shift)). Per pooled element, `code` records the winning
    /// window position (0...3, row-major; ties to the first, NaN wins, as `MaxPool2x2`), or 4
    /// where the ReLU cut the winner (the window passes no gradient), and `winner` the input
    /// value at the winning position.
    func forward(_ x: UnsafePointer<Float>, scale: [Float], shift: [Float], relu: Bool,
                 _ y: UnsafeMutablePointer<Float>, code: UnsafeMutablePointer<Float>, winner: UnsafeMutablePointer<Float>) {
        let (h, w, oh, ow, lanes) = (pool.height, pool.width, pool.outHeight, pool.outWidth, pool.lanes)
        scale.withUnsafeBufferPointer { scaleBuffer in
            shift.withUnsafeBufferPointer { shiftBuffer in
                let (a, b) = (scaleBuffer.baseAddress!, shiftBuffer.baseAddress!)
                OpenMP.parallel { thread, threads in
                    for row in OpenMP.share(pool.outer * oh, thread, threads) {
                        let plane = row / oh, i = row - plane * oh
                        let coefficients = (plane % blocks) * lanes
                        let top = x + (plane * h + 2 * i) * w * lanes, bottom = top + w * lanes
                        var out = (plane * oh + i) * ow * lanes
                        for j in 0..<ow {
                            for c in stride(from: 0, to: lanes, by: 8) {
                                let av = load(a + coefficients + c), bv = load(b + coefficients + c)
                                let at = 2 * j * lanes + c
                                let x0 = load(top + at), x1 = load(top + at + lanes)
                                let x2 = load(bottom + at), x3 = load(bottom + at + lanes)
                                // m = the running maximum (NaN wins), k = where it was, win = the
                                // input there. Written out: Swift would not inline a helper here.
                                var m = normalise(x0, av, bv, relu), k = V(repeating: 0), win = x0
                                let v1 = normalise(x1, av, bv, relu), wins1 = (v1 .> m) .| (v1 .!= v1)
                                m.replace(with: v1, where: wins1); k.replace(with: 1, where: wins1); win.replace(with: x1, where: wins1)
                                let v2 = normalise(x2, av, bv, relu), wins2 = (v2 .> m) .| (v2 .!= v2)
                                m.replace(with: v2, where: wins2); k.replace(with: 2, where: wins2); win.replace(with: x2, where: wins2)
                                let v3 = normalise(x3, av, bv, relu), wins3 = (v3 .> m) .| (v3 .!= v3)
                                m.replace(with: v3, where: wins3); k.replace(with: 3, where: wins3); win.replace(with: x3, where: wins3)
                                if relu { k.replace(with: 4, where: m .<= 0) }
                                store(m, y + out)
                                store(k, code + out)
                                store(win, winner + out)
                                out += 8
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: - Backward

    /// Per channel: the sums of the pooled gradient g that reaches each window's winner (code
    /// below 4) and of g * (winner - mean).
    func gradientSums(_ dy: UnsafePointer<Float>, code: UnsafePointer<Float>, winner: UnsafePointer<Float>,
                      mean: [Float]) -> (sums: [Double], products: [Double]) {
        let (lanes, pooledPlane) = (pool.lanes, pool.outHeight * pool.outWidth)
        return mean.withUnsafeBufferPointer { meanBuffer in
            let mu = meanBuffer.baseAddress!
            return passes.channelSums { plane, channel in
                let start = plane * pooledPlane * lanes + channel % lanes, muv = load(mu + channel)
                var s = V(repeating: 0), q = V(repeating: 0)
                for pixel in 0..<pooledPlane {
                    let at = start + pixel * lanes
                    let g = V(repeating: 0).replacing(with: load(dy + at), where: load(code + at) .< 4)
                    s += g
                    q += g * (load(winner + at) - muv)
                }
                return (s, q)
            }
        }
    }

    /// dx = a * x + b, plus c * g at each window's winner (g: the pooled gradient, 0 where the
    /// ReLU cut it); a row or column outside every window (odd H or W) gets a * x + b alone.
    func inputGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, code: UnsafePointer<Float>,
                       a: [Float], b: [Float], c: [Float], _ dx: UnsafeMutablePointer<Float>) {
        let (h, w, oh, ow, lanes) = (pool.height, pool.width, pool.outHeight, pool.outWidth, pool.lanes)
        a.withUnsafeBufferPointer { aBuffer in
            b.withUnsafeBufferPointer { bBuffer in
                c.withUnsafeBufferPointer { cBuffer in
                    let (ap, bp, cp) = (aBuffer.baseAddress!, bBuffer.baseAddress!, cBuffer.baseAddress!)
                    OpenMP.parallel { thread, threads in
                        for plane in OpenMP.share(pool.outer, thread, threads) {
                            let coefficients = (plane % blocks) * lanes
                            let xPlane = x + plane * h * w * lanes, dxPlane = dx + plane * h * w * lanes
                            /// a * x + b over `count` pixels from `pixel`: what no window's gradient reaches.
                            func affine(from pixel: Int, count: Int) {
                                for q in pixel..<(pixel + count) {
                                    for ch in stride(from: 0, to: lanes, by: 8) {
                                        let at = q * lanes + ch
                                        store(load(ap + coefficients + ch) * load(xPlane + at) + load(bp + coefficients + ch), dxPlane + at)
                                    }
                                }
                            }
                            // Row by row, so that x and dx are each read or written in one
                            // sequential stream (window by window, two rows at once, ran at half
                            // the speed: the second row's loads missed the cache).
                            for r in 0..<(2 * oh) {
                                let i = r / 2, first = Float(2 * (r % 2))  // positions first, first + 1
                                var out = (plane * oh + i) * ow * lanes
                                for j in 0..<ow {
                                    for ch in stride(from: 0, to: lanes, by: 8) {
                                        let av = load(ap + coefficients + ch), bv = load(bp + coefficients + ch)
                                        let k = load(code + out)
                                        let g = load(cp + coefficients + ch) * load(dy + out)
                                        let zero = V(repeating: 0)
                                        let left = (r * w + 2 * j) * lanes + ch
                                        store(av * load(xPlane + left) + bv + zero.replacing(with: g, where: k .== first), dxPlane + left)
                                        store(av * load(xPlane + left + lanes) + bv + zero.replacing(with: g, where: k .== first + 1),
                                              dxPlane + left + lanes)
                                        out += 8
                                    }
                                }
                                if w > 2 * ow { affine(from: r * w + 2 * ow, count: 1) }
                            }
                            if h > 2 * oh { affine(from: 2 * oh * w, count: w) }
                        }
                    }
                }
            }
        }
    }

    // MARK: - Helpers

    @inline(__always) private func normalise(_ x: V, _ a: V, _ b: V, _ relu: Bool) -> V {
        let v = a * x + b
        return relu ? v.replacing(with: 0, where: v .< 0) : v
    }

    @inline(__always) private func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) private func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
}
