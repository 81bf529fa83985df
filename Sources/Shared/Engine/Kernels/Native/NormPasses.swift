/// Training-mode batch normalisation and its optional ReLU in the engine's own passes, on the
/// layouts of `ChannelPlanes`: two passes forward (statistics; normalise) and two backward
/// (gradient sums; input gradient), running on oneDNN's OpenMP threads.
///
/// oneDNN 2.6's batch norm takes 0.71 + 0.62 ms (training forward + backward, AVX2) on
/// resnet20's 128x16x28x28 activations, about three times what reading and writing them
/// costs; these passes are memory-bound, so SIMD8 arithmetic is enough (Swift builds for
/// baseline x86-64, SSE2). The ReLU's mask is not stored: backward recomputes it from the
/// saved input with the forward pass's exact arithmetic.
///
/// Per channel c, with M samples, mean mu, sigma = sqrt(var + eps), xhat = (x - mu) / sigma,
/// forward y = relu?(scale * x + shift) with scale = gamma / sigma, shift = beta - scale * mu;
/// backward, with g = dy (0 where the ReLU cut the output), S1 = sum g, S2 = sum g * xhat:
/// dx = gamma / sigma * (g - S1 / M - xhat * S2 / M) = c * g + a * x + b, dgamma = S2,
/// dbeta = S1.
///
/// Per-channel vectors (`[Float]` arguments) have `paddedChannels` entries: blocked layouts
/// round the channels up to whole blocks, whose padding lanes get zero coefficients.
struct NormPasses {
    let planes: ChannelPlanes
    let batch: Int

    /// The geometry of `x`, or nil where `ChannelPlanes` does not handle its layout.
    init?(_ x: MemoryDesc) {
        guard let planes = ChannelPlanes(x) else { return nil }
        self.planes = planes
        batch = x.dims[0]
    }

    /// Channel blocks per image (1 in nhwc, whose one block is all C channels).
    var blocks: Int { planes.outer / batch }
    var paddedChannels: Int { blocks * planes.lanes }
    var samplesPerChannel: Int { batch * planes.planeSize }

    /// Offset of channel c's first value (image 0, row 0, column 0): the per-channel shift of
    /// `shiftedSums`, a sample of the channel, so that the sums stay small.
    func firstOffset(channel c: Int) -> Int { (c / planes.lanes) * planes.planeSize * planes.lanes + c % planes.lanes }

    typealias V = SIMD8<Float>

    // MARK: - Forward

    /// Per channel: the sums of x - shift and of (x - shift)^2.
    func shiftedSums(_ x: UnsafePointer<Float>, shift: [Float]) -> (sums: [Double], squares: [Double]) {
        let (lanes, size) = (planes.lanes, planes.planeSize)
        return shift.withUnsafeBufferPointer { shiftBuffer in
            let k = shiftBuffer.baseAddress!
            return channelSums { plane, channel in
                let start = x + plane * size * lanes + channel % lanes, kv = load(k + channel)
                var s = V(repeating: 0), q = V(repeating: 0)
                for pixel in 0..<size {
                    let v = load(start + pixel * lanes) - kv
                    s += v
                    q += v * v
                }
                return (s, q)
            }
        }
    }

    /// y = relu?(scale * x + shift).
    func normalise(_ x: UnsafePointer<Float>, scale: [Float], shift: [Float], relu: Bool, _ y: UnsafeMutablePointer<Float>) {
        withPointers(scale, shift) { a, b in
            forEachRun { start, channel in
                let (av, bv) = (load(a + channel), load(b + channel))
                for at in start {
                    let v = normalised(load(x + at), av, bv)
                    store(relu ? v.replacing(with: 0, where: v .< 0) : v, y + at)
                }
            }
        }
    }

    // MARK: - Backward

    /// Per channel: the sums of g and of g * (x - mean), g = dy cut where the forward pass's
    /// ReLU (scale and shift as given to `normalise`) cut the output.
    func gradientSums(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, scale: [Float], shift: [Float], relu: Bool,
                      mean: [Float]) -> (sums: [Double], products: [Double]) {
        let (lanes, size) = (planes.lanes, planes.planeSize)
        return withPointers(scale, shift) { a, b in
            mean.withUnsafeBufferPointer { meanBuffer in
                let mu = meanBuffer.baseAddress!
                return channelSums { plane, channel in
                    let start = plane * size * lanes + channel % lanes
                    let (av, bv, muv) = (load(a + channel), load(b + channel), load(mu + channel))
                    var s = V(repeating: 0), q = V(repeating: 0)
                    for pixel in 0..<size {
                        let at = start + pixel * lanes, xv = load(x + at)
                        let g = relu ? masked(load(dy + at), normalised(xv, av, bv)) : load(dy + at)
                        s += g
                        q += g * (xv - muv)
                    }
                    return (s, q)
                }
            }
        }
    }

    /// dx = c * g + a * x + b (g as in `gradientSums`).
    func inputGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, scale: [Float], shift: [Float], relu: Bool,
                       a: [Float], b: [Float], c: [Float], _ dx: UnsafeMutablePointer<Float>) {
        withPointers(scale, shift) { scaleP, shiftP in
            withPointers(a, b) { ap, bp in
                c.withUnsafeBufferPointer { cBuffer in
                    let cp = cBuffer.baseAddress!
                    forEachRun { start, ch in
                        let (sv, tv) = (load(scaleP + ch), load(shiftP + ch))
                        let (av, bv, cv) = (load(ap + ch), load(bp + ch), load(cp + ch))
                        for at in start {
                            let xv = load(x + at)
                            let g = relu ? masked(load(dy + at), normalised(xv, sv, tv)) : load(dy + at)
                            store(cv * g + av * xv + bv, dx + at)
                        }
                    }
                }
            }
        }
    }

    // MARK: - Helpers

    /// Two sums per channel over the planes, split over the team: `plane(index, channel)`
    /// gives plane `index`'s two Float sums for the 8 channels from `channel` (an index into
    /// the per-channel vectors). Each thread adds them in Float over a plane, or over several
    /// images' planes up to about 1024 pixels where planes are smaller, then in Double; the
    /// threads' parts are added in thread order.
    func channelSums(_ plane: (_ index: Int, _ channel: Int) -> (V, V)) -> ([Double], [Double]) {
        let (p, lanes, threads) = (paddedChannels, planes.lanes, ComputeThreads.count)
        let imagesPerFlush = max(1, 1024 / planes.planeSize)
        var parts = [Double](repeating: 0, count: threads * 2 * p)
        parts.withUnsafeMutableBufferPointer { partsBuffer in
            let parts = partsBuffer.baseAddress!
            OpenMP.parallel { thread, team in
                let mine = parts + thread * 2 * p
                var pending = [V](repeating: V(repeating: 0), count: 2 * p / 8)
                func flush() {
                    for v in 0..<(p / 8) {
                        for l in 0..<8 { mine[8 * v + l] += Double(pending[v][l]); mine[p + 8 * v + l] += Double(pending[p / 8 + v][l]) }
                        pending[v] = V(repeating: 0); pending[p / 8 + v] = V(repeating: 0)
                    }
                }
                let share = OpenMP.share(planes.outer, thread, team)
                for index in share {
                    let first = (index % blocks) * lanes
                    for channel in stride(from: first, to: first + lanes, by: 8) {
                        let (s, q) = plane(index, channel)
                        pending[channel / 8] += s
                        pending[p / 8 + channel / 8] += q
                    }
                    let imageEnds = index % blocks == blocks - 1
                    if index == share.upperBound - 1 || (imageEnds && (index / blocks + 1) % imagesPerFlush == 0) { flush() }
                }
            }
        }
        var first = [Double](repeating: 0, count: p), second = first
        for t in 0..<threads {
            for c in 0..<p { first[c] += parts[t * 2 * p + c]; second[c] += parts[t * 2 * p + p + c] }
        }
        return (first, second)
    }

    /// Calls `body(offsets, channel)` for every run of 8 channels of one plane, split over the
    /// team by planes: `offsets` are the run's 8-float vectors, pixel by pixel, and `channel`
    /// the index of its first channel in the per-channel vectors.
    private func forEachRun(_ body: (_ offsets: StrideTo<Int>, _ channel: Int) -> Void) {
        let (lanes, size) = (planes.lanes, planes.planeSize)
        OpenMP.parallel { thread, threads in
            for plane in OpenMP.share(planes.outer, thread, threads) {
                let first = (plane % blocks) * lanes, start = plane * size * lanes
                for c in stride(from: 0, to: lanes, by: 8) {
                    body(stride(from: start + c, to: start + size * lanes, by: lanes), first + c)
                }
            }
        }
    }

    /// The forward pass's affine map, written once so that backward's ReLU mask repeats it exactly.
    @inline(__always) private func normalised(_ x: V, _ a: V, _ b: V) -> V { a * x + b }

    /// g where the normalised value v passed the ReLU (v > 0), else 0.
    @inline(__always) private func masked(_ g: V, _ v: V) -> V { V(repeating: 0).replacing(with: g, where: v .> 0) }

    private func withPointers<R>(_ a: [Float], _ b: [Float], _ body: (UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
        a.withUnsafeBufferPointer { aBuffer in b.withUnsafeBufferPointer { bBuffer in body(aBuffer.baseAddress!, bBuffer.baseAddress!) } }
    }

    @inline(__always) private func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) private func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
}
