internal import CKernels

/// The engine's own Winograd F(4x4, 3x3) convolution (CKernels' Winograd.c): a quarter of the
/// direct kernel's multiplications, at the cost of transforming inputs, outputs and weights. On
/// nChw8c tensors with AVX2, where oneDNN 2.6 has no Winograd, and on nChw16c with AVX-512,
/// where oneDNN's own runs slower (and, under 64 channels, slower than its direct kernels).
///
/// Measured on one Zen 4 core capped to AVX2 against the direct kernel (Conv3x3.c), batch 32:
/// 2.3x on 16 channels at 32x32, 2.6-3.2x on 32 to 256 channels at 8x8 to 56x56, 2.1-2.6x on
/// 512 channels at 7x7 and 4x4, but 0.66x on 2x2 planes, where a 4x4 tile is mostly padding.
/// The AVX-512 build on one Zen 5 core against the AVX2 one: 1.4x at 16 channels on 32x32,
/// 1.8-2x at 32 to 256 channels; whole training steps against oneDNN's direct and Winograd
/// kernels 1.2-1.3x faster (BENCHMARKS.md).
/// Its results differ from the direct kernel's by rounding, about five times as much (Conv2dTests).
///
/// The transformed weights are four times the plain ones: a training step transforms them for
/// each pass into per-call storage (`WinogradWorkspace` up to its cap, the pool beyond), so only
/// one layer's are held at a time. The weight gradient sums per thread in the transformed
/// domain, up to `maxWeightSumsBytes`.
enum Winograd3x3 {
    /// The channel block (8: nChw8c, AVX2; 16: nChw16c, AVX-512) of the layouts oneDNN runs on
    /// this machine, or nil where the kernels do not run (no AVX2, `KD_NATIVE_KERNELS=0`).
    static let lanes: Int? = {
        guard NativeKernels.allowed else { return nil }
        if DNNL.effectiveISA == "AVX2", kd_cpu_has_avx2_fma() != 0 { return 8 }
        if DNNL.effectiveISA.hasPrefix("AVX512"), kd_cpu_has_avx512f() != 0 { return 16 }
        return nil
    }()

    /// Whether a convolution from `inChannels` to `outChannels` on this plane runs here: both
    /// channel counts multiples of 16 (so that its backward-data convolution also fits the
    /// kernel), planes at least 4x4, and `KD_WINOGRAD` not "0".
    static func applies(inChannels: Int, outChannels: Int, height: Int, width: Int) -> Bool {
        ConvolutionAlgorithm.winogradAllowed && inChannels % 16 == 0 && outChannels % 16 == 0
            && min(height, width) >= 4
    }

    /// The most memory a weight gradient's per-thread sums may take (36 x inC x outC floats
    /// each): 256 x 256 channels take 9 MiB; wider layers keep the direct kernel.
    static let maxWeightSumsBytes = 16 << 20

    /// Whether the weight gradient of a convolution that runs here also does.
    static func computesWeightGradient(inChannels: Int, outChannels: Int) -> Bool {
        36 * inChannels * outChannels * 4 <= maxWeightSumsBytes
    }

    /// Pooled storage for `desc`, from 1 MiB up rounded up to whole MiB so that layers of
    /// nearby sizes share buffers in the pool (vgg13's training peak: 454 -> 446 MiB).
    private static func pooled(_ desc: MemoryDesc) -> Tensor {
        Tensor(pooled: desc, zeroed: false, roundedUp: desc.byteCount >= 1 << 20 ? 1 << 20 : 1)
    }

    /// The weights w[outC][inC][3][3] transformed for the forward convolution, kept by
    /// evaluation's folded layers until training resumes. Pooled, they reuse what training
    /// left in the pool (ResNet-50 at 224 on AVX-512: teacher-train's peak, which is its
    /// evaluation's, 3482 MiB with them outside the pool, 3357 in it).
    static func pack(_ weights: UnsafePointer<Float>, outChannels: Int, inChannels: Int, lanes: Int) -> Tensor {
        let desc = MemoryDesc.plain([Int(kd_wino_weights_floats(Int32(inChannels), Int32(outChannels)))])
        let packed = pooled(desc)
        pack(weights, into: packed.floats, outChannels: outChannels, inChannels: inChannels, transposed: false, lanes: lanes)
        return packed
    }

    /// Transforms w[outC][inC][3][3] into `out` for the forward convolution, or with
    /// `transposed` for its backward-data convolution; `out` 64-byte aligned.
    private static func pack(_ weights: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, outChannels: Int,
                             inChannels: Int, transposed: Bool, lanes: Int) {
        nonisolated(unsafe) let out = out
        let packedOutputs = transposed ? inChannels : outChannels
        OpenMP.parallel { thread, threads in
            let blocks = OpenMP.share(packedOutputs / lanes, thread, threads)
            kd_wino_pack(weights, out, Int32(outChannels), Int32(inChannels), transposed ? 1 : 0,
                         Int32(blocks.lowerBound * lanes), Int32(blocks.upperBound * lanes), Int32(lanes))
        }
    }

    /// Storage of `count` floats for one call: the shared workspace up to its cap, pooled
    /// beyond it (the tensor, when there is one, to be held until the call ends).
    private static func storage(_ count: Int) -> (floats: UnsafeMutablePointer<Float>, pooled: Tensor?) {
        if let floats = WinogradWorkspace.shared.floats(count) { return (floats, nil) }
        let tensor = pooled(.plain([count]))
        return (tensor.floats, tensor)
    }

    /// Floats of one thread's tile scratch for a convolution from `c` to `k` channels.
    private static func scratchFloats(_ c: Int, _ k: Int) -> Int {
        Int(kd_wino_scratch_floats(Int32(c), Int32(k), kd_wino_tile_block(Int32(c), Int32(k))))
    }

    /// y = relu?(conv(x, packed) + bias) for x: [N][inC/L][H][W][L] (L = `lanes`) and `packed`
    /// from `pack` for this convolution (inC to outC channels): evaluation.
    static func forward(_ x: Tensor, packed: Tensor, bias: UnsafePointer<Float>?, relu: Bool, into y: Tensor,
                        inChannels: Int, outChannels: Int, lanes: Int) {
        let scratch = storage(ComputeThreads.count * scratchFloats(inChannels, outChannels))
        run(x, packed: packed.floats, scratch: scratch.floats, bias: bias, relu: relu, into: y, inChannels: inChannels,
            outChannels: outChannels, lanes: lanes)
        withExtendedLifetime((packed, scratch.pooled)) {}
    }

    /// y = conv(x, weights) + bias for plain weights w[outC][inC][3][3] that change between
    /// calls (training), or with `transposed` dx = the backward-data convolution of dy = x:
    /// transformed into the workspace for this call.
    static func forward(_ x: Tensor, weights: UnsafePointer<Float>, transposed: Bool, bias: UnsafePointer<Float>?,
                        into y: Tensor, outChannels: Int, inChannels: Int, lanes: Int) {
        let (c, k) = transposed ? (outChannels, inChannels) : (inChannels, outChannels)
        let packedCount = Int(kd_wino_weights_floats(Int32(c), Int32(k)))
        let store = storage(packedCount + ComputeThreads.count * scratchFloats(c, k))
        pack(weights, into: store.floats, outChannels: outChannels, inChannels: inChannels, transposed: transposed, lanes: lanes)
        run(x, packed: store.floats, scratch: store.floats + packedCount, bias: bias, relu: false, into: y, inChannels: c,
            outChannels: k, lanes: lanes)
        withExtendedLifetime(store.pooled) {}
    }

    private static func run(_ x: Tensor, packed: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                            bias: UnsafePointer<Float>?, relu: Bool, into y: Tensor, inChannels: Int, outChannels: Int,
                            lanes: Int) {
        let (batch, height, width) = (x.shape[0], x.shape[2], x.shape[3])
        let tiles = batch * ((height + 3) / 4) * ((width + 3) / 4)
        let block = kd_wino_tile_block(Int32(inChannels), Int32(outChannels))
        let perThread = scratchFloats(inChannels, outChannels)
        nonisolated(unsafe) let (xp, wp, yp, sp) = (UnsafePointer(x.floats), UnsafePointer(packed), y.floats, scratch)
        OpenMP.parallel { thread, threads in
            let share = OpenMP.share(tiles, thread, threads)
            kd_wino_forward(xp, wp, bias, yp, sp + thread * perThread, Int32(share.lowerBound), Int32(share.upperBound),
                            block, Int32(inChannels), Int32(outChannels), Int32(height), Int32(width), relu ? 1 : 0,
                            Int32(lanes))
        }
    }

    /// Adds the weight gradient (plain [out][in][3][3]) and, when given, the bias gradient of
    /// input x and output gradient dy. Each thread sums its share of the tiles into its own
    /// transformed part; the parts are added in thread order and transformed back, the output
    /// channels split over the team.
    static func backwardWeights(_ x: Tensor, _ dy: Tensor, weightGrad: UnsafeMutablePointer<Float>,
                                biasGrad: UnsafeMutablePointer<Float>?, inChannels: Int, outChannels: Int, lanes: Int) {
        let (batch, height, width) = (x.shape[0], x.shape[2], x.shape[3])
        let tiles = batch * ((height + 3) / 4) * ((width + 3) / 4)
        let block = kd_wino_tile_block(Int32(inChannels), Int32(outChannels))
        let perThread = scratchFloats(inChannels, outChannels)
        let partCount = 36 * inChannels * outChannels, threads = ComputeThreads.count
        let sumsCount = threads * (partCount + outChannels)
        let store = storage(sumsCount + threads * perThread)
        nonisolated(unsafe) let (xp, dyp, sp) = (UnsafePointer(x.floats), UnsafePointer(dy.floats), store.floats + sumsCount)
        nonisolated(unsafe) let (parts, biasParts) = (store.floats, store.floats + threads * partCount)
        nonisolated(unsafe) var team = threads
        let withBias = biasGrad != nil
        let (c, k, h, w, l) = (Int32(inChannels), Int32(outChannels), Int32(height), Int32(width), Int32(lanes))
        OpenMP.parallel { thread, threads in
            if thread == 0 { team = threads }
            (parts + thread * partCount).update(repeating: 0, count: partCount)
            let share = OpenMP.share(tiles, thread, threads)
            kd_wino_backward_weights(xp, dyp, parts + thread * partCount, sp + thread * perThread,
                                     Int32(share.lowerBound), Int32(share.upperBound), block, c, k, h, w, l)
            guard withBias else { return }
            (biasParts + thread * outChannels).update(repeating: 0, count: outChannels)
            let images = OpenMP.share(batch, thread, threads)
            kd_wino_bias_sums(dyp, biasParts + thread * outChannels, Int32(images.lowerBound), Int32(images.upperBound), k, h, w, l)
        }
        nonisolated(unsafe) let grad = weightGrad
        OpenMP.parallel { thread, threads in
            let blocks = OpenMP.share(outChannels / lanes, thread, threads)
            kd_wino_reduce_weights(parts, Int32(team), grad, k, c, Int32(blocks.lowerBound * lanes),
                                   Int32(blocks.upperBound * lanes), l)
        }
        if let biasGrad { Conv3x3.addThreadParts(biasParts, parts: team, count: outChannels, into: biasGrad) }
        withExtendedLifetime(store.pooled) {}
    }
}
