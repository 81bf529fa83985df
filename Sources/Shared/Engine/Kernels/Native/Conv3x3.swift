internal import CKernels

/// The engine's own 3x3 convolution (stride 1, padding 1, no groups) on nChw8c tensors, for
/// AVX2 machines: C kernels with AVX2 + FMA (`CKernels`), run on oneDNN's OpenMP team.
///
/// Measured on the 2 cores of an AVX2 EPYC, batch 128 (BENCHMARKS.md): backward-weights at
/// 170-180 GFLOP/s on every resnet20 and cnn5 shape, against oneDNN 2.6's 75-135; forward (and
/// backward-data, the same kernel with transposed weights) at 170-190 on 28-wide planes against
/// oneDNN's 140-180, but no faster on 14- and 7-wide ones. So backward-weights runs here
/// wherever the shape allows, the direct forward and backward-data only on planes at least 28
/// wide.
///
/// A first layer's input (1 or 3 channels) stays plain [N][C][H][W] in oneDNN, which then has
/// no fast backward-weights (its GEMM path, after reordering the output gradient, ran cnn5's
/// 1->32 layer at about 15 GFLOP/s): the `_plain` kernels take that input as it is.
///
/// Forward and backward-data run in Winograd F(4x4, 3x3) (`Winograd3x3`) wherever it applies,
/// at any plane width, and backward-weights too (past 256 x 256 channels only on more than one
/// thread); the direct kernel stays for the other shapes.
///
/// Where oneDNN runs AVX-512, its direct kernels and nChw16c layouts are faster than these, and
/// only `Winograd3x3`'s AVX-512 build runs here: on nChw16c layers where it applies, in place of
/// oneDNN's direct and Winograd kernels alike (faster than both on every benchmarked model), the
/// weight gradient within its limit; the rest stays in oneDNN. `KD_NATIVE_KERNELS=0` turns all
/// of it off (to compare with oneDNN alone).
final class Conv3x3 {
    let inChannels, outChannels, height, width: Int
    /// The input is plain [N][C][H][W] rather than nChw8c.
    let plainSource: Bool
    /// The channel block of the layouts: 8 (nChw8c, AVX2) or 16 (nChw16c, AVX-512: Winograd only).
    let lanes: Int
    /// Which passes run here rather than in oneDNN.
    let runsForward, runsBackwardData, runsBackwardWeights: Bool
    /// Forward and backward-data run in Winograd rather than the direct kernel.
    let winograd: Bool
    /// So does backward-weights.
    let winogradWeights: Bool

    /// The direct kernel's packed weights (empty under Winograd).
    private var packed: [Float]
    private var packedTransposed: [Float]
    /// The Winograd weights `load` packed, kept for evaluation's many batches: four times the
    /// plain weights, but packing them for each batch instead cost vgg13's inference at
    /// batch 64 30% (512 channels on 4x4 planes; AVX2 on Zen 4, 2 rounds, memory 432 -> 352 MiB).
    private var loadedWinograd: Tensor?
    private var scratch: [Float] = []
    private var weightSums: [Float] = []
    private var biasSums: [Float] = []

    /// The CPU has AVX2 and FMA, oneDNN runs AVX2 kernels, and `KD_NATIVE_KERNELS` is not "0".
    static let enabled: Bool = NativeKernels.allowed && kd_cpu_has_avx2_fma() != 0 && DNNL.effectiveISA == "AVX2"

    /// The kernels for a convolution with this geometry whose input and output have the layouts
    /// `source` and `output`, or nil where they do not apply.
    init?(kernel: Int, stride: Int, padding: Int, groups: Int, source: MemoryDesc, output: MemoryDesc) {
        let (x, y) = (source.dims, output.dims)
        guard kernel == 3, stride == 1, padding == 1, groups == 1, x.count == 4, y[1] % 16 == 0, x[2] == y[2], x[3] == y[3]
        else { return nil }
        if Winograd3x3.lanes == 16 {
            guard source == .blocked16(x), output == .blocked16(y),
                  Winograd3x3.applies(inChannels: x[1], outChannels: y[1], height: x[2], width: x[3])
            else { return nil }
            (inChannels, outChannels, height, width, lanes, plainSource) = (x[1], y[1], x[2], x[3], 16, false)
            (winograd, runsForward, runsBackwardData) = (true, true, true)
            winogradWeights = Winograd3x3.computesWeightGradient(inChannels: inChannels, outChannels: outChannels, lanes: lanes)
            runsBackwardWeights = winogradWeights
            (packed, packedTransposed) = ([], [])
            return
        }
        guard Self.enabled, output == .blocked8(y) else { return nil }
        lanes = 8
        if source == .plain(x) {
            plainSource = true
        } else if source == .blocked8(x), x[1] % 8 == 0 {
            plainSource = false
        } else {
            return nil
        }
        (inChannels, outChannels, height, width) = (x[1], y[1], x[2], x[3])
        winograd = !plainSource && Winograd3x3.applies(inChannels: inChannels, outChannels: outChannels,
                                                       height: height, width: width)
        winogradWeights = winograd && Winograd3x3.computesWeightGradient(inChannels: inChannels, outChannels: outChannels,
                                                                          lanes: lanes)
        runsForward = winograd || width >= 28
        runsBackwardData = winograd || (width >= 28 && inChannels % 16 == 0 && !plainSource)
        runsBackwardWeights = true
        packed = winograd ? [] : [Float](repeating: 0, count: outChannels * inChannels * 9)
        packedTransposed = packed
    }

    /// Packs the weights (plain [out][in][3][3]) that `forward(_:bias:relu:into:)` uses until
    /// the next call.
    func load(weights: UnsafePointer<Float>) {
        if winograd {
            loadedWinograd = Winograd3x3.pack(weights, outChannels: outChannels, inChannels: inChannels, lanes: lanes)
        } else {
            kd_conv3x3_pack(weights, &packed, Int32(outChannels), Int32(inChannels), 0)
        }
    }

    /// Frees what `load` packed for Winograd; `forward(_:bias:relu:into:)` needs a `load` again.
    func unload() { loadedWinograd = nil }

    /// y = relu?(conv(x, the loaded weights) + bias).
    func forward(_ x: Tensor, bias: UnsafePointer<Float>?, relu: Bool, into y: Tensor) {
        guard winograd else {
            return run(x, into: y, packed: packed, bias: bias, relu: relu, inC: inChannels, outC: outChannels, plain: plainSource)
        }
        guard let loadedWinograd else { preconditionFailure("Conv3x3.forward before load(weights:)") }
        Winograd3x3.forward(x, packed: loadedWinograd, bias: bias, relu: relu, into: y,
                            inChannels: inChannels, outChannels: outChannels, lanes: lanes)
    }

    /// y = conv(x, weights) + bias, for weights that change between calls (training): Winograd's
    /// are transformed for this call only (`WinogradWorkspace`).
    func forward(_ x: Tensor, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, into y: Tensor) {
        guard winograd else {
            load(weights: weights)
            return forward(x, bias: bias, relu: false, into: y)
        }
        Winograd3x3.forward(x, weights: weights, transposed: false, bias: bias, into: y, outChannels: outChannels,
                            inChannels: inChannels, lanes: lanes)
    }

    /// dx = the input gradient of conv(x, weights) for the output gradient dy.
    func backwardData(_ dy: Tensor, weights: UnsafePointer<Float>, into dx: Tensor) {
        if winograd {
            return Winograd3x3.forward(dy, weights: weights, transposed: true, bias: nil, into: dx, outChannels: outChannels,
                                       inChannels: inChannels, lanes: lanes)
        }
        kd_conv3x3_pack(weights, &packedTransposed, Int32(outChannels), Int32(inChannels), 1)
        run(dy, into: dx, packed: packedTransposed, bias: nil, relu: false, inC: outChannels, outC: inChannels, plain: false)
    }

    private func run(_ x: Tensor, into y: Tensor, packed: [Float], bias: UnsafePointer<Float>?, relu: Bool, inC: Int, outC: Int, plain: Bool) {
        let batch = x.shape[0], (h, w) = (height, width)
        let perThread = kd_conv3x3_scratch_floats(Int32(inC), Int32(h), Int32(w))
        reserveScratch(perThread)
        nonisolated(unsafe) let (xp, yp) = (UnsafePointer(x.floats), y.floats)
        packed.withUnsafeBufferPointer { wp in
            scratch.withUnsafeMutableBufferPointer { sp in
                nonisolated(unsafe) let (wp, sp) = (wp.baseAddress!, sp.baseAddress!)
                OpenMP.parallel { thread, threads in
                    let share = OpenMP.share(batch, thread, threads)
                    let run = plain ? kd_conv3x3_forward_plain : kd_conv3x3_forward
                    run(xp, wp, bias, yp, sp + thread * perThread, Int32(share.lowerBound), Int32(share.upperBound),
                        Int32(inC), Int32(outC), Int32(h), Int32(w), relu ? 1 : 0)
                }
            }
        }
    }

    /// Adds the weight gradient (plain [out][in][3][3]) and, when given, the bias gradient of
    /// input x and output gradient dy. Each thread sums its share of the batch into its own
    /// part; the parts are then added in thread order, the output channels split over the team.
    func backwardWeights(_ x: Tensor, _ dy: Tensor, weightGrad: UnsafeMutablePointer<Float>, biasGrad: UnsafeMutablePointer<Float>?) {
        if winogradWeights {
            return Winograd3x3.backwardWeights(x, dy, weightGrad: weightGrad, biasGrad: biasGrad,
                                               inChannels: inChannels, outChannels: outChannels, lanes: lanes)
        }
        let batch = x.shape[0], (ic, oc, h, w) = (inChannels, outChannels, height, width)
        let perThread = kd_conv3x3_scratch_floats(Int32(ic), Int32(h), Int32(w))
        let threads = reserveScratch(perThread)
        let sumCount = oc * ic * 9
        if weightSums.count < threads * sumCount { weightSums = [Float](repeating: 0, count: threads * sumCount) }
        if biasSums.count < threads * oc { biasSums = [Float](repeating: 0, count: threads * oc) }
        nonisolated(unsafe) let (xp, dyp) = (UnsafePointer(x.floats), UnsafePointer(dy.floats))
        let withBias = biasGrad != nil
        nonisolated(unsafe) var parts = threads  // the team that ran: each zeroed and wrote its own part
        scratch.withUnsafeMutableBufferPointer { sp in
            weightSums.withUnsafeMutableBufferPointer { ws in
                biasSums.withUnsafeMutableBufferPointer { bs in
                    nonisolated(unsafe) let (sp, sums, bs) = (sp.baseAddress!, ws.baseAddress!, bs.baseAddress!)
                    OpenMP.parallel { thread, team in
                        if thread == 0 { parts = team }
                        let share = OpenMP.share(batch, thread, team)
                        (sums + thread * sumCount).update(repeating: 0, count: sumCount)
                        (bs + thread * oc).update(repeating: 0, count: oc)
                        let run = plainSource ? kd_conv3x3_backward_weights_plain : kd_conv3x3_backward_weights
                        run(xp, dyp, sums + thread * sumCount, withBias ? bs + thread * oc : nil,
                            sp + thread * perThread, Int32(share.lowerBound), Int32(share.upperBound),
                            Int32(ic), Int32(oc), Int32(h), Int32(w))
                    }
                    OpenMP.parallel { thread, team in
                        let outputs = OpenMP.share(oc, thread, team)
                        kd_conv3x3_reduce_weights(sums, Int32(parts), weightGrad, Int32(oc), Int32(ic),
                                                  Int32(outputs.lowerBound), Int32(outputs.upperBound))
                    }
                }
            }
        }
        if let biasGrad { Self.addThreadParts(biasSums, parts: parts, count: oc, into: biasGrad) }
    }

    /// into[i] += the sum over threads t of parts[t * count + i], in thread order.
    static func addThreadParts(_ sums: UnsafePointer<Float>, parts: Int, count: Int, into: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            var s: Float = 0
            for t in 0..<parts { s += sums[t * count + i] }
            into[i] += s
        }
    }

    /// Makes room for every thread of the team's scratch; returns the team size.
    @discardableResult
    private func reserveScratch(_ perThread: Int) -> Int {
        let threads = ComputeThreads.count
        if scratch.count < threads * perThread { scratch = [Float](repeating: 0, count: threads * perThread) }
        return threads
    }
}
