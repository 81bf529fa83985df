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
/// one layer's are held at a time, and of the widest layers a chunk of `maxChunkBytes`. The
/// weight gradient sums in the transformed domain: each thread holds the sums of all the
/// channels for its share of the tiles, or, on wide layers, the sums of its share of the output
/// channels (`splitsOutputChannels`), a piece at a time on the widest, within
/// `maxWeightSumsBytes` in all.
/// Each output and gradient is summed in one fixed order whatever the chunks or pieces; the
/// thread count changes the weight gradient's order only where the tiles are split.
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

    /// The most memory a weight gradient's sums take at a time, all threads together (36 floats
    /// for each input and output channel summed): 256 x 256 channels take 9 MiB. Wider layers
    /// split their output channels over the threads (`splitsOutputChannels`), each thread
    /// summing its channels in pieces that fit its share (`weightGradientPieces`).
    static let maxWeightSumsBytes = 16 << 20

    /// Whether the weight gradient of a convolution that runs here also does: up to
    /// `maxWeightSumsBytes` of sums, or in pieces of output channels on more than one thread
    /// (with one, wider layers keep the direct kernel).
    static func computesWeightGradient(inChannels: Int, outChannels: Int, lanes: Int) -> Bool {
        36 * inChannels * outChannels * 4 <= maxWeightSumsBytes
            || splitsOutputChannels(inChannels: inChannels, outChannels: outChannels, lanes: lanes)
    }

    /// How a thread sums its share of the output channels where the weight gradient splits them
    /// over the team: in as few equal pieces (whole channel blocks) as keep every thread's sums
    /// within its part of `maxWeightSumsBytes`, `channels` at a time. Each piece transforms
    /// every input tile again. vgg13's 512 x 512 layers on 4x4 planes, 2 threads: 3 pieces of 88
    /// channels (AVX2) or 96 (AVX-512).
    static func weightGradientPieces(inChannels: Int, outChannels: Int, lanes: Int) -> (channels: Int, count: Int) {
        let threads = ComputeThreads.count
        let share = (outChannels / lanes + threads - 1) / threads
        let fitting = max(1, maxWeightSumsBytes / threads / (36 * inChannels * lanes * 4))
        let pieces = (share + fitting - 1) / fitting
        return ((share + pieces - 1) / pieces * lanes, pieces)
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
        pack(weights, into: packed.floats, outChannels: outChannels, inChannels: inChannels, transposed: false,
             chunk: 0..<outChannels, lanes: lanes)
        return packed
    }

    /// Transforms the output channels `chunk` of w[outC][inC][3][3] into `out` for the forward
    /// convolution, or with `transposed` for its backward-data convolution (whose output
    /// channels are w's input channels); `out` 64-byte aligned.
    private static func pack(_ weights: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, outChannels: Int,
                             inChannels: Int, transposed: Bool, chunk: Range<Int>, lanes: Int) {
        nonisolated(unsafe) let out = out
        OpenMP.parallel { thread, threads in
            let blocks = OpenMP.share(chunk.count / lanes, thread, threads)
            kd_wino_pack(weights, out, Int32(outChannels), Int32(inChannels), transposed ? 1 : 0, Int32(chunk.lowerBound),
                         Int32(chunk.count), Int32(chunk.lowerBound + blocks.lowerBound * lanes),
                         Int32(chunk.lowerBound + blocks.upperBound * lanes), Int32(lanes))
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

    /// The most memory a training call's transformed weights take at a time: wider layers run
    /// in chunks of output channels, each chunk transforming the input tiles again. vgg13's
    /// 512-channel layers on 4x4 planes (38 MB of transformed weights) had raised its training
    /// peak on AVX-512 from 360 MiB (without Winograd) to 391; in chunks of 16 MiB, 364, the
    /// forward pass of 512 to 512 channels on 4x4 (3 chunks) taking 1.07-1.14x the time and of
    /// 256 to 512 (2 chunks) 1.01x (BENCHMARKS.md). Evaluation keeps its transformed weights
    /// whole: per batch, vgg13's inference ran 0.69-0.75x as fast.
    static let maxChunkBytes = 16 << 20

    /// Output channels per chunk for a training call from `c` to `k` channels: all of them when
    /// their transformed weights fit `maxChunkBytes`, else as few equal chunks (whole channel
    /// blocks) as fit.
    static func chunkChannels(_ c: Int, _ k: Int, lanes: Int) -> Int {
        let bytes = 36 * c * k * 4, blocks = k / lanes
        let chunks = (bytes + maxChunkBytes - 1) / maxChunkBytes
        return (blocks + chunks - 1) / chunks * lanes
    }

    /// y = relu?(conv(x, packed) + bias) for x: [N][inC/L][H][W][L] (L = `lanes`) and `packed`
    /// from `pack` for this convolution (inC to outC channels): evaluation.
    static func forward(_ x: Tensor, packed: Tensor, bias: UnsafePointer<Float>?, relu: Bool, into y: Tensor,
                        inChannels: Int, outChannels: Int, lanes: Int) {
        let scratch = storage(ComputeThreads.count * scratchFloats(inChannels, outChannels))
        run(x, packed: packed.floats, scratch: scratch.floats, bias: bias, relu: relu, into: y, inChannels: inChannels,
            outChannels: outChannels, chunk: 0..<outChannels, lanes: lanes)
        withExtendedLifetime((packed, scratch.pooled)) {}
    }

    /// y = conv(x, weights) + bias for plain weights w[outC][inC][3][3] that change between
    /// calls (training), or with `transposed` dx = the backward-data convolution of dy = x:
    /// transformed into per-call storage, a chunk of output channels at a time.
    static func forward(_ x: Tensor, weights: UnsafePointer<Float>, transposed: Bool, bias: UnsafePointer<Float>?,
                        into y: Tensor, outChannels: Int, inChannels: Int, lanes: Int) {
        let (c, k) = transposed ? (outChannels, inChannels) : (inChannels, outChannels)
        let chunkSize = chunkChannels(c, k, lanes: lanes)
        let packedCount = Int(kd_wino_weights_floats(Int32(c), Int32(chunkSize)))
        let store = storage(packedCount + ComputeThreads.count * scratchFloats(c, chunkSize))
        for k0 in stride(from: 0, to: k, by: chunkSize) {
            let chunk = k0..<min(k, k0 + chunkSize)
            pack(weights, into: store.floats, outChannels: outChannels, inChannels: inChannels, transposed: transposed,
                 chunk: chunk, lanes: lanes)
            run(x, packed: store.floats, scratch: store.floats + packedCount, bias: bias, relu: false, into: y,
                inChannels: c, outChannels: k, chunk: chunk, lanes: lanes)
        }
        withExtendedLifetime(store.pooled) {}
    }

    /// The output channels `chunk` of y from `packed`, which holds that chunk of the weights.
    private static func run(_ x: Tensor, packed: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                            bias: UnsafePointer<Float>?, relu: Bool, into y: Tensor, inChannels: Int, outChannels: Int,
                            chunk: Range<Int>, lanes: Int) {
        let (batch, height, width) = (x.shape[0], x.shape[2], x.shape[3])
        let tiles = batch * ((height + 3) / 4) * ((width + 3) / 4)
        let block = kd_wino_tile_block(Int32(inChannels), Int32(chunk.count))
        let perThread = scratchFloats(inChannels, chunk.count)
        nonisolated(unsafe) let (xp, wp, yp, sp) = (UnsafePointer(x.floats), UnsafePointer(packed), y.floats, scratch)
        let (c, k, k0, k1) = (Int32(inChannels), Int32(outChannels), Int32(chunk.lowerBound), Int32(chunk.upperBound))
        OpenMP.parallel { thread, threads in
            let share = OpenMP.share(tiles, thread, threads)
            kd_wino_forward(xp, wp, bias, yp, sp + thread * perThread, Int32(share.lowerBound), Int32(share.upperBound),
                            block, c, k, k0, k1, Int32(height), Int32(width), relu ? 1 : 0, Int32(lanes))
        }
    }

    /// Adds the weight gradient (plain [out][in][3][3]) and, when given, the bias gradient of
    /// input x and output gradient dy, summed in the transformed domain and transformed back.
    /// Where `splitsOutputChannels`, each thread sums every tile for its share of the output
    /// channels and transforms them back; otherwise each thread sums its share of the tiles
    /// for all of them into its own part, and the parts are added in thread order.
    static func backwardWeights(_ x: Tensor, _ dy: Tensor, weightGrad: UnsafeMutablePointer<Float>,
                                biasGrad: UnsafeMutablePointer<Float>?, inChannels: Int, outChannels: Int, lanes: Int) {
        let (batch, height, width) = (x.shape[0], x.shape[2], x.shape[3])
        let tiles = batch * ((height + 3) / 4) * ((width + 3) / 4), threads = ComputeThreads.count
        let byChannels = splitsOutputChannels(inChannels: inChannels, outChannels: outChannels, lanes: lanes)
        let partChannels = byChannels
            ? weightGradientPieces(inChannels: inChannels, outChannels: outChannels, lanes: lanes).channels : outChannels
        let (partCount, scratchCount) = (36 * inChannels * partChannels, scratchFloats(inChannels, partChannels))
        let store = storage(threads * (partCount + scratchCount + outChannels))
        nonisolated(unsafe) let (parts, grad) = (store.floats, weightGrad)
        nonisolated(unsafe) let (scratch, biasParts) = (parts + threads * partCount, parts + threads * (partCount + scratchCount))
        nonisolated(unsafe) let (xp, dyp) = (UnsafePointer(x.floats), UnsafePointer(dy.floats))
        nonisolated(unsafe) var team = threads
        let block = kd_wino_tile_block(Int32(inChannels), Int32(partChannels))
        let (c, k, h, w, l) = (Int32(inChannels), Int32(outChannels), Int32(height), Int32(width), Int32(lanes))
        OpenMP.parallel { thread, threads in
            if thread == 0 { team = threads }
            let (part, sp) = (parts + thread * partCount, scratch + thread * scratchCount)
            if byChannels {  // in pieces of partChannels (more should the team be smaller than planned)
                let blocks = OpenMP.share(outChannels / lanes, thread, threads)
                for first in stride(from: blocks.lowerBound * lanes, to: blocks.upperBound * lanes, by: partChannels) {
                    let (k0, k1) = (Int32(first), Int32(min(first + partChannels, blocks.upperBound * lanes)))
                    part.update(repeating: 0, count: 36 * inChannels * Int(k1 - k0))
                    kd_wino_backward_weights(xp, dyp, part, sp, 0, Int32(tiles), k0, k1, block, c, k, h, w, l)
                    kd_wino_reduce_weights(part, 1, grad, c, k0, k1 - k0, k0, k1, l)
                }
            } else {
                let share = OpenMP.share(tiles, thread, threads)
                part.update(repeating: 0, count: partCount)
                kd_wino_backward_weights(xp, dyp, part, sp, Int32(share.lowerBound), Int32(share.upperBound), 0, k, block,
                                         c, k, h, w, l)
            }
            guard biasGrad != nil else { return }
            (biasParts + thread * outChannels).update(repeating: 0, count: outChannels)
            let images = OpenMP.share(batch, thread, threads)
            kd_wino_bias_sums(dyp, biasParts + thread * outChannels, Int32(images.lowerBound), Int32(images.upperBound), k, h, w, l)
        }
        if !byChannels {
            OpenMP.parallel { thread, threads in
                let blocks = OpenMP.share(outChannels / lanes, thread, threads)
                kd_wino_reduce_weights(parts, Int32(team), grad, c, 0, k, Int32(blocks.lowerBound * lanes),
                                       Int32(blocks.upperBound * lanes), l)
            }
        }
        if let biasGrad { Conv3x3.addThreadParts(biasParts, parts: team, count: outChannels, into: biasGrad) }
        withExtendedLifetime(store.pooled) {}
    }

    /// Whether a weight gradient splits its output channels over the team (`backwardWeights`):
    /// where one thread's part of all the channels would take `minSplitPartBytes` or more, and
    /// there are channel blocks for every thread. Each thread then transforms every input tile,
    /// but holds and streams the sums of its channels only: with 2 threads, 128 to 256 channels
    /// on 8x8 ran 1.15-1.27x faster, 256 to 256 1.00-1.59x, and the sums take half the memory;
    /// 128 to 128 on 16x16 ran 0.87-0.95x, so parts of up to 2.25 MiB (36 x 128 x 128 floats)
    /// keep the split over tiles.
    static func splitsOutputChannels(inChannels: Int, outChannels: Int, lanes: Int) -> Bool {
        let threads = ComputeThreads.count
        return threads > 1 && outChannels / lanes >= threads && 36 * inChannels * outChannels * 4 >= minSplitPartBytes
    }

    static let minSplitPartBytes = 4 << 20
}
