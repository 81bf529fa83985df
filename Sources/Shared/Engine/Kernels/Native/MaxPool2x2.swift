internal import CDNNL

/// Max pooling over 2x2 windows with stride 2 (PyTorch's `nn.MaxPool2d(2)`: floor output size,
/// no padding) on channels-innermost layouts, running on oneDNN's OpenMP threads.
///
/// oneDNN 2.6's AVX2 max pooling costs 4.4 + 3.1 ms (training forward + backward) on cnn5's
/// first pool, 128x32x28x28; this takes 0.4 + 0.3 ms on the same machine. Memory-bound, so
/// SIMD8 compare-and-select is enough: Swift builds for baseline x86-64 (SSE2).
///
/// Works on the layouts of `ChannelPlanes` (padded channels are pooled like any other).
/// Training records, per output element, which window position held the maximum (0...3, as a
/// Float so that the backward pass compares floats: SIMD8<Int32> comparisons are scalarised).
/// Ties go to the first position in row-major order and NaN wins, as in PyTorch.
struct MaxPool2x2 {
    let outer, height, width, lanes: Int
    /// The input's layout, which the output keeps.
    let layout: dnnl_format_tag_t
    var outHeight: Int { height / 2 }
    var outWidth: Int { width / 2 }

    /// The geometry of `x`, or nil where the layout is not one this kernel handles.
    init?(_ x: MemoryDesc) {
        guard let p = ChannelPlanes(x), p.height >= 2, p.width >= 2 else { return nil }
        (outer, height, width, lanes, layout) = (p.outer, p.height, p.width, p.lanes, p.layout)
    }

    private typealias V = SIMD8<Float>

    /// y = maxpool(x); `argmax` (one Float per element of y), when given, records the winners.
    func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Float>?) {
        let (h, w, oh, ow, lanes) = (height, width, outHeight, outWidth, lanes)
        OpenMP.parallel { thread, threads in
            for row in OpenMP.share(outer * oh, thread, threads) {
                let plane = row / oh, i = row - plane * oh
                let top = x + (plane * h + 2 * i) * w * lanes, bottom = top + w * lanes
                var out = (plane * oh + i) * ow * lanes
                for j in 0..<ow {
                    for c in stride(from: 2 * j * lanes, to: 2 * j * lanes + lanes, by: 8) {
                        let a = load(top + c), b = load(top + c + lanes), d = load(bottom + c), e = load(bottom + c + lanes)
                        var m = a, k = V(repeating: 0)
                        take(b, 1, &m, &k); take(d, 2, &m, &k); take(e, 3, &m, &k)
                        store(m, y + out)
                        if let argmax { store(k, argmax + out) }
                        out += 8
                    }
                }
            }
        }
    }

    /// dx from dy and the forward pass's `argmax`: each window's gradient goes to its winner;
    /// a last row or column outside every window (odd H or W) gets zero.
    func backward(_ dy: UnsafePointer<Float>, argmax: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        let (h, w, oh, ow, lanes) = (height, width, outHeight, outWidth, lanes)
        OpenMP.parallel { thread, threads in
            for plane in OpenMP.share(outer, thread, threads) {
                let planeStart = dx + plane * h * w * lanes
                if h > 2 * oh { (planeStart + 2 * oh * w * lanes).update(repeating: 0, count: w * lanes) }
                for i in 0..<oh {
                    let top = planeStart + 2 * i * w * lanes, bottom = top + w * lanes
                    var out = (plane * oh + i) * ow * lanes
                    for j in 0..<ow {
                        for c in stride(from: 2 * j * lanes, to: 2 * j * lanes + lanes, by: 8) {
                            let g = load(dy + out), k = load(argmax + out), zero = V(repeating: 0)
                            store(zero.replacing(with: g, where: k .== 0), top + c)
                            store(zero.replacing(with: g, where: k .== 1), top + c + lanes)
                            store(zero.replacing(with: g, where: k .== 2), bottom + c)
                            store(zero.replacing(with: g, where: k .== 3), bottom + c + lanes)
                            out += 8
                        }
                    }
                    if w > 2 * ow {
                        (top + 2 * ow * lanes).update(repeating: 0, count: lanes)
                        (bottom + 2 * ow * lanes).update(repeating: 0, count: lanes)
                    }
                }
            }
        }
    }

    /// m = max(m, v) with NaN winning, k = position where v won.
    @inline(__always) private func take(_ v: V, _ position: Float, _ m: inout V, _ k: inout V) {
        let wins = (v .> m) .| (v .!= v)
        m.replace(with: v, where: wins)
        k.replace(with: position, where: wins)
    }

    @inline(__always) private func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) private func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
}
