internal import CDNNL

/// 2-D convolution (PyTorch `nn.Conv2d`): square kernel, stride, zero padding, optional bias,
/// groups (groups == channels is depthwise).
///
/// Parameters: `<name>.weight` [out, in/groups, k, k] and `<name>.bias` [out], plain in the
/// arena; oneDNN's preferred (blocked) weight layout is a per-step reorder of that.
/// Activations keep the layout oneDNN picks (`format_tag any`).
public final class Conv2d: Layer {
    public let inChannels, outChannels, kernel, stride, padding, groups: Int
    public var computesInputGradient = true
    /// Weight and bias frozen (`ParameterStore.setFrozen`): backward skips their gradients.
    public var isFrozen: Bool { store.isFrozen(weight) && (bias.map { store.isFrozen($0) } ?? true) }
    let store: ParameterStore
    let weight: ParameterStore.Slot
    let bias: ParameterStore.Slot?
    /// Evaluation primitives with a folded BatchNorm (Conv2d+Folded.swift), by input shape.
    var foldedPlans: [[Int]: FoldedPlan] = [:]

    /// Primitives and buffers for one input shape.
    private final class Plan {
        /// Runs in both modes: forward_training, which oneDNN 2.6 runs faster than
        /// forward_inference here (see Conv2d+Folded.swift).
        let forward: Primitive
        let backwardData: Primitive
        let backwardWeights: Primitive
        let source, output, weightsForward, weightsBackward, diffWeights: MemoryDesc
        /// The input and output-gradient layouts backward-weights reads: the forward ones,
        /// or plain ones where oneDNN has only a reference kernel for those (see makePlan).
        let weightsSource, weightsDiffDst: MemoryDesc
        let plainWeights: MemoryDesc
        /// The engine's own kernels for this shape where they are faster than oneDNN's (AVX2,
        /// 3x3 stride 1; Kernels/Native/Conv3x3.swift), nil elsewhere.
        let native: Conv3x3?
        init(forward: Primitive, backwardData: Primitive, backwardWeights: Primitive, plainWeights: MemoryDesc,
             native: (_ source: MemoryDesc, _ output: MemoryDesc) -> Conv3x3?) {
            self.forward = forward
            self.backwardData = backwardData; self.backwardWeights = backwardWeights
            source = forward.desc(dnnl_query_src_md)
            output = forward.desc(dnnl_query_dst_md)
            weightsForward = forward.desc(dnnl_query_weights_md)
            weightsBackward = backwardData.desc(dnnl_query_weights_md)
            diffWeights = backwardWeights.desc(dnnl_query_diff_weights_md)
            weightsSource = backwardWeights.desc(dnnl_query_src_md)
            weightsDiffDst = backwardWeights.desc(dnnl_query_diff_dst_md)
            self.plainWeights = plainWeights
            self.native = native(source, output)
        }
    }

    private var plans: [[Int]: Plan] = [:]
    private var plan: Plan!
    private let inputAdapter = LayoutAdapter()
    private let weightAdapter = LayoutAdapter()
    private let weightBackwardAdapter = LayoutAdapter()
    /// Brings the input gradient back to the layout the input came in (the forward pass may
    /// have reordered the input into the convolution's preferred layout).
    private let gradientAdapter = LayoutAdapter()
    private var givenInputDesc: MemoryDesc?
    private let diffWeightAdapter = LayoutAdapter()
    private let weightsSourceAdapter = LayoutAdapter()
    private let weightsDiffDstAdapter = LayoutAdapter()
    private var savedInput: Tensor?
    private var diffBias: Tensor?

    public init(_ b: ModelBuilder, _ name: String, _ inChannels: Int, _ outChannels: Int, kernel: Int,
                stride: Int = 1, padding: Int = 0, groups: Int = 1, bias: Bool = true,
                init weightInit: WeightInit = .pytorchDefault, biasInit: WeightInit? = nil) {
        precondition(inChannels % groups == 0 && outChannels % groups == 0, "\(name): channels not divisible by groups")
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.groups = groups
        self.store = b.store
        let shape = [outChannels, inChannels / groups, kernel, kernel]
        let fanIn = inChannels / groups * kernel * kernel
        let fanOut = outChannels * kernel * kernel  // PyTorch: weight.size(0) * receptive field
        weight = b.store.add(name + ".weight", shape: shape,
                             initial: weightInit.values(count: shape.reduce(1, *), fanIn: fanIn, fanOut: fanOut, rng: &b.rng))
        self.bias = bias ? b.store.add(name + ".bias", shape: [outChannels],
                                       initial: (biasInit ?? .pytorchDefault).values(count: outChannels, fanIn: fanIn, fanOut: fanOut, rng: &b.rng)) : nil
    }

    /// Output spatial size for an input size (PyTorch's floor formula).
    public func outputSize(_ size: Int) -> Int { (size + 2 * padding - kernel) / stride + 1 }

    var weightDims: [Int] {
        groups == 1 ? [outChannels, inChannels, kernel, kernel]
            : [groups, outChannels / groups, inChannels / groups, kernel, kernel]
    }

    /// Output dims, strides and paddings for an input shape. The right padding makes oneDNN's
    /// size formula give PyTorch's floor output size.
    func geometry(_ inputDims: [Int]) -> (outDims: [Int], strides: [Int64], padL: [Int64], padR: [Int64]) {
        let (n, h, w) = (inputDims[0], inputDims[2], inputDims[3])
        let outDims = [n, outChannels, outputSize(h), outputSize(w)]
        let padR = [Int64((outDims[2] - 1) * stride + kernel - h - padding), Int64((outDims[3] - 1) * stride + kernel - w - padding)]
        return (outDims, [Int64(stride), Int64(stride)], [Int64(padding), Int64(padding)], padR)
    }

    /// The algorithms this convolution tries, Winograd first where it pays (ConvolutionAlgorithm).
    func algorithms(_ pass: ConvolutionAlgorithm.Pass, _ inputDims: [Int]) -> [dnnl_alg_kind_t] {
        ConvolutionAlgorithm.candidates(kernel: kernel, stride: stride, groups: groups, inChannels: inChannels, outChannels: outChannels,
                                        height: inputDims[2], width: inputDims[3], pass: pass)
    }

    private func makePlan(_ inputDims: [Int]) -> Plan {
        let g = geometry(inputDims)
        var src = MemoryDesc.any(inputDims).raw, dst = MemoryDesc.any(g.outDims).raw
        var wts = MemoryDesc.any(weightDims).raw, bia = MemoryDesc.plain([outChannels]).raw
        let (strides, pad, padR) = (g.strides, g.padL, g.padR)
        let fwd = ConvolutionAlgorithm.primitive(algorithms(.forward, inputDims), what: "conv forward") { algorithm in
            var d = dnnl_convolution_desc_t()
            withOptionalPointer(bias != nil ? bia : nil) { biasPtr in
                dnnlCheck(dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, algorithm, &src, &wts, biasPtr, &dst,
                                                             strides, pad, padR), "conv forward desc")
            }
            return d
        }
        // Gradients share their tensors' layouts: diff_src = src, diff_dst = dst.
        var fsrc = fwd.desc(dnnl_query_src_md).raw, fdst = fwd.desc(dnnl_query_dst_md).raw
        var anyW = MemoryDesc.any(weightDims).raw
        let bwdData = ConvolutionAlgorithm.primitive(algorithms(.backwardData, inputDims), hint: fwd, what: "conv backward data") { algorithm in
            var d = dnnl_convolution_desc_t()
            dnnlCheck(dnnl_convolution_backward_data_desc_init(&d, algorithm, &fsrc, &anyW, &fdst, strides, pad, padR),
                      "conv backward-data desc")
            return d
        }
        func backwardWeights(_ src: inout dnnl_memory_desc_t, _ diffDst: inout dnnl_memory_desc_t) -> Primitive {
            ConvolutionAlgorithm.primitive(algorithms(.backwardWeights, inputDims), hint: fwd, what: "conv backward weights") { algorithm in
                var d = dnnl_convolution_desc_t()
                withOptionalPointer(bias != nil ? bia : nil) { biasPtr in
                    dnnlCheck(dnnl_convolution_backward_weights_desc_init(&d, algorithm, &src, &anyW, biasPtr, &diffDst,
                                                                          strides, pad, padR), "conv backward-weights desc")
                }
                return d
            }
        }
        var bwdWeights = backwardWeights(&fsrc, &fdst)
        // oneDNN 2.6 below AVX-512 has no JIT backward-weights for blocked layouts with one input
        // channel (every first layer on grey images) or for depthwise convolutions on 2x2 planes:
        // it picks `ref:any`, a naive loop (~1 s per cnn5 step). On plain layouts it runs im2col +
        // its JIT GEMM ("gemm:jit") instead, ~300x faster, at the price of reordering the
        // output gradient.
        if bwdWeights.implementation.hasPrefix("ref:") {
            var plainSrc = MemoryDesc.plain(inputDims).raw, plainDst = MemoryDesc.plain(g.outDims).raw
            bwdWeights = backwardWeights(&plainSrc, &plainDst)
        }
        return Plan(forward: fwd, backwardData: bwdData, backwardWeights: bwdWeights,
                    plainWeights: .plain(weightDims), native: nativeKernels)
    }

    /// Whether Winograd may run at all: `KD_WINOGRAD=0` turns off oneDNN's and the engine's.
    public static var winogradAllowed: Bool { ConvolutionAlgorithm.winogradAllowed }

    /// Whether convolutions may run Winograd here: oneDNN has it on AVX-512 machines, and
    /// `KD_WINOGRAD=0` turns it off (ConvolutionAlgorithm).
    public static var winogradAvailable: Bool { ConvolutionAlgorithm.winogradAllowed && DNNL.effectiveISA.hasPrefix("AVX512") }

    /// The oneDNN implementations of the last input shape's passes (e.g. "jit:avx512_core",
    /// "jit_wino_4x3:avx512_core"), for tests; a pass in `nativePasses` does not run its.
    public var implementations: (forward: String, backwardData: String, backwardWeights: String)? {
        plan.map { ($0.forward.implementation, $0.backwardData.implementation, $0.backwardWeights.implementation) }
    }

    /// Whether this machine runs the engine's own convolution kernels where they apply (AVX2
    /// without AVX-512; `KD_NATIVE_KERNELS=0` turns them off).
    public static var nativeKernelsEnabled: Bool { Conv3x3.enabled }

    /// Whether this machine runs the engine's own Winograd kernel where it applies (AVX2 on
    /// nChw8c, AVX-512 on nChw16c; off with `KD_NATIVE_KERNELS=0` or `KD_WINOGRAD=0`).
    public static var nativeWinogradEnabled: Bool { Winograd3x3.lanes != nil && ConvolutionAlgorithm.winogradAllowed }

    /// How the engine's Winograd kernel would run a training step of a 3x3 convolution from
    /// `inChannels` to `outChannels` on this machine (nil where it does not run): whether its
    /// weight gradient splits the output channels over the threads and in how many pieces a
    /// thread then sums its share (1 otherwise), and in how many chunks of output channels its
    /// forward and backward-data passes transform the weights.
    public static func nativeWinogradPlan(inChannels: Int, outChannels: Int)
        -> (splitsWeightGradient: Bool, weightGradientPieces: Int, forwardChunks: Int, backwardDataChunks: Int)? {
        guard nativeWinogradEnabled, let lanes = Winograd3x3.lanes else { return nil }
        func chunks(_ c: Int, _ k: Int) -> Int {
            let size = Winograd3x3.chunkChannels(c, k, lanes: lanes)
            return (k + size - 1) / size
        }
        let splits = Winograd3x3.splitsOutputChannels(inChannels: inChannels, outChannels: outChannels, lanes: lanes)
        let pieces = Winograd3x3.weightGradientPieces(inChannels: inChannels, outChannels: outChannels, lanes: lanes).count
        return (splits, splits ? pieces : 1, chunks(inChannels, outChannels), chunks(outChannels, inChannels))
    }

    /// Which passes of the last input shape run in the engine's own kernels rather than
    /// oneDNN's: a subset of "forward", "backward-data", "backward-weights".
    public var nativePasses: [String] {
        guard let native = plan?.native else { return [] }
        return (native.runsForward ? ["forward"] : []) + (native.runsBackwardData ? ["backward-data"] : [])
            + (native.runsBackwardWeights ? ["backward-weights"] : [])
    }

    /// Which passes of the last input shape run in the engine's own Winograd kernel
    /// (Kernels/Native/Winograd3x3.swift): a subset of `nativePasses`.
    public var nativeWinogradPasses: [String] {
        guard let native = plan?.native, native.winograd else { return [] }
        return ["forward", "backward-data"] + (native.winogradWeights ? ["backward-weights"] : [])
    }

    /// The engine's own kernels for these layouts, where this convolution's geometry allows them.
    func nativeKernels(_ source: MemoryDesc, _ output: MemoryDesc) -> Conv3x3? {
        Conv3x3(kernel: kernel, stride: stride, padding: padding, groups: groups, source: source, output: output)
    }

    /// Floating-point operations of the last forward pass (2 per multiply-add).
    public internal(set) var lastForwardFLOPs = 0

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let dims = x.shape
        precondition(dims.count == 4 && dims[1] == inChannels, "Conv2d expects [N, \(inChannels), H, W], got \(dims)")
        if plan == nil || plan.source.dims != dims {
            if let p = plans[dims] { plan = p } else { plan = makePlan(dims); plans[dims] = plan }
        }
        if mode == .train { releaseFoldedWinogradWeights() }
        let input = inputAdapter.adapt(x, to: plan.source)
        givenInputDesc = x.desc
        let out = Tensor(pooled: plan.output)
        lastForwardFLOPs = 2 * out.count * (inChannels / groups) * kernel * kernel
        if let native = plan.native, native.runsForward {
            native.forward(input, weights: store.value(weight), bias: bias.map { store.value($0) }, into: out)
        } else {
            let weights = weightAdapter.adapt(Tensor(reading: store.value(weight), plan.plainWeights), to: plan.weightsForward)
            var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, input), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_DST, out)]
            if let bias { args.append((DNNL_ARG_BIAS, Tensor(reading: store.value(bias), .plain([outChannels])))) }
            plan.forward.execute(args)
        }
        savedInput = mode == .train ? input : nil
        return out
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let input = savedInput else { fatalError("Conv2d.backward without a training forward") }
        defer { savedInput = nil }
        precondition(dy.desc == plan.output, "Conv2d.backward: gradient layout differs from the output's")
        if isFrozen {
            // No weight gradient work (fine-tuning's frozen layers).
        } else if let native = plan.native, native.runsBackwardWeights {
            native.backwardWeights(input, dy, weightGrad: store.grad(weight), biasGrad: bias.map { store.grad($0) })
        } else {
            backwardWeightsDNNL(input, dy)
        }
        guard computesInputGradient else { return dy }
        let dx = Tensor(pooled: plan.source)
        if let native = plan.native, native.runsBackwardData {
            native.backwardData(dy, weights: store.value(weight), into: dx)
        } else {
            let weightsB = weightBackwardAdapter.adapt(Tensor(reading: store.value(weight), plan.plainWeights), to: plan.weightsBackward)
            plan.backwardData.execute([(DNNL_ARG_DIFF_DST, dy), (DNNL_ARG_WEIGHTS, weightsB), (DNNL_ARG_DIFF_SRC, dx)])
        }
        return gradientAdapter.adapt(dx, to: givenInputDesc ?? plan.source)
    }

    /// Weight (and bias) gradients in oneDNN: computed in its layout, reordered to plain, added.
    private func backwardWeightsDNNL(_ input: Tensor, _ dy: Tensor) {
        let dW = Tensor(pooled: plan.diffWeights)
        var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, weightsSourceAdapter.adapt(input, to: plan.weightsSource)),
                                       (DNNL_ARG_DIFF_DST, weightsDiffDstAdapter.adapt(dy, to: plan.weightsDiffDst)),
                                       (DNNL_ARG_DIFF_WEIGHTS, dW)]
        if bias != nil {
            args.append((DNNL_ARG_DIFF_BIAS, reuse(&diffBias, .plain([outChannels]))))
        }
        plan.backwardWeights.execute(args)
        let plainGrad = diffWeightAdapter.adapt(dW, to: plan.plainWeights)
        accumulate(plainGrad.floats, into: store.grad(weight), count: weightDims.reduce(1, *))
        if let bias { accumulate(diffBias!.floats, into: store.grad(bias), count: outChannels) }
    }
}

/// Calls `body` with a pointer to `value`, or with nil.
@inline(__always)
func withOptionalPointer<T, R>(_ value: T?, _ body: (UnsafePointer<T>?) -> R) -> R {
    guard var v = value else { return body(nil) }
    return withUnsafePointer(to: &v) { body($0) }
}
