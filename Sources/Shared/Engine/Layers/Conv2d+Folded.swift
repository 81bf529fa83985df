internal import CDNNL

// MARK: - Evaluation with a folded BatchNorm

extension Conv2d {
    /// One inference primitive for convolution + per-channel affine (+ ReLU), and the folded
    /// weights it was last given.
    final class FoldedPlan {
        let primitive: Primitive
        let source: MemoryDesc, output: MemoryDesc, weights: MemoryDesc
        let input = LayoutAdapter()
        /// The folded weights for oneDNN's primitive; nil where the engine's own kernel runs the
        /// convolution and keeps its own. (Allocated zeroed for every plan, they had taken
        /// vgg13's process peak on AVX-512, training then evaluation, from 433 to 469 MiB.)
        let foldedWeights: Tensor?
        let foldedBias: Tensor
        let native: Conv3x3?
        var version = -1
        init(primitive: Primitive, outChannels: Int, native: (_ source: MemoryDesc, _ output: MemoryDesc) -> Conv3x3?) {
            self.primitive = primitive
            source = primitive.desc(dnnl_query_src_md)
            output = primitive.desc(dnnl_query_dst_md)
            weights = primitive.desc(dnnl_query_weights_md)
            foldedBias = Tensor(.plain([outChannels]))
            self.native = native(source, output).flatMap { $0.runsForward ? $0 : nil }
            foldedWeights = self.native == nil ? Tensor(weights) : nil
        }
    }

    /// relu?(scale * conv(x) + shift) per output channel in one call (oneDNN's, or the engine's
    /// own kernel where it runs the forward pass): a following
    /// BatchNorm in evaluation mode folded into the weights and bias. The folded weights are
    /// recomputed only when the parameters changed (`ParameterStore.version`).
    func forwardFolded(_ x: Tensor, scaleShift: () -> (scale: [Float], shift: [Float]), relu: Bool) -> Tensor {
        let key = x.shape + [relu ? 1 : 0]
        let plan: FoldedPlan
        if let p = foldedPlans[key] { plan = p } else { plan = makeFoldedPlan(x.shape, relu: relu); foldedPlans[key] = plan }
        if plan.version != store.version {
            let (scale, shift) = scaleShift()
            let perOutput = inChannels / groups * kernel * kernel
            let w = store.value(weight)
            var folded = [Float](repeating: 0, count: outChannels * perOutput)
            for o in 0..<outChannels { for i in 0..<perOutput { folded[o * perOutput + i] = w[o * perOutput + i] * scale[o] } }
            if let native = plan.native { native.load(weights: folded) } else { plan.foldedWeights!.load(folded) }
            let b = bias.map { store.value($0) }
            for o in 0..<outChannels { plan.foldedBias.floats[o] = (b?[o] ?? 0) * scale[o] + shift[o] }
            plan.version = store.version
        }
        let input = plan.input.adapt(x, to: plan.source)
        let out = Tensor(pooled: plan.output)
        lastForwardFLOPs = 2 * out.count * (inChannels / groups) * kernel * kernel
        if let native = plan.native {
            native.forward(input, bias: plan.foldedBias.floats, relu: relu, into: out)
        } else {
            plan.primitive.execute([(DNNL_ARG_SRC, input), (DNNL_ARG_WEIGHTS, plan.foldedWeights!),
                                    (DNNL_ARG_BIAS, plan.foldedBias), (DNNL_ARG_DST, out)])
        }
        return out
    }

    /// Frees the engine's transformed folded weights (AVX2 Winograd: four times the plain ones)
    /// when training resumes, so that they do not sit in memory through the next epoch: the next
    /// evaluation folds again anyway, the parameters having changed by then. (ResNet-50 at 224
    /// capped to AVX2, 3 epochs of one batch: teacher-train's peak 3564 -> 3554 MiB; the peak
    /// is evaluation's, with training's buffers still in the pool.)
    func releaseFoldedWinogradWeights() {
        for plan in foldedPlans.values where plan.version != -1 && plan.native?.winograd == true {
            plan.native?.unload()
            plan.version = -1
        }
    }

    private func makeFoldedPlan(_ inputDims: [Int], relu: Bool) -> FoldedPlan {
        let g = geometry(inputDims)
        var src = MemoryDesc.any(inputDims).raw, dst = MemoryDesc.any(g.outDims).raw
        var wts = MemoryDesc.any(weightDims).raw, bia = MemoryDesc.plain([outChannels]).raw
        // forward_training, not forward_inference: oneDNN 2.6 picks a faster kernel for it here
        // (measured: resnet20 evaluation ~25% faster; PyTorch makes the same choice).
        let primitive = ConvolutionAlgorithm.primitive(algorithms(.forward, inputDims), attributes: PostOps(relu: relu), what: "conv + folded batch norm") { algorithm in
            var d = dnnl_convolution_desc_t()
            dnnlCheck(dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, algorithm, &src, &wts, &bia, &dst,
                                                         g.strides, g.padL, g.padR), "folded conv desc")
            return d
        }
        return FoldedPlan(primitive: primitive,
                          outChannels: outChannels, native: nativeKernels)
    }
}

/// Convolution followed by batch norm (and the norm's optional fused ReLU). Training runs the
/// two layers as they are; evaluation folds the norm's running statistics into the
/// convolution, one oneDNN call instead of two passes.
public final class ConvBN: Layer {
    public let conv: Conv2d
    public let norm: BatchNorm

    public init(_ conv: Conv2d, _ norm: BatchNorm) {
        precondition(conv.outChannels == norm.channels, "ConvBN: \(conv.outChannels) channels into a norm of \(norm.channels)")
        self.conv = conv
        self.norm = norm
    }

    public var computesInputGradient: Bool {
        get { conv.computesInputGradient }
        set { conv.computesInputGradient = newValue }
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        if mode == .train { return norm.forward(conv.forward(x, mode: .train), mode: .train) }
        return conv.forwardFolded(x, scaleShift: norm.evaluationScaleShift, relu: norm.fusedReLU)
    }

    public func backward(_ dy: Tensor) -> Tensor { conv.backward(norm.backward(dy)) }

    public var backwardReadsOutput: Bool { norm.backwardReadsOutput }
}
