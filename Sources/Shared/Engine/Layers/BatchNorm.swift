internal import CDNNL

/// Batch normalisation over the channel dimension, PyTorch's `nn.BatchNorm2d` (input
/// [N, C, H, W]) and `nn.BatchNorm1d` (input [N, C]) alike.
///
/// Training normalises with the batch's mean and biased variance and updates the running
/// statistics as PyTorch does: `running = (1 - momentum) * running + momentum * batch`, with the
/// *unbiased* batch variance. Evaluation normalises with the running statistics.
/// Parameters `<name>.weight`, `<name>.bias` [C]; buffers `running_mean`, `running_var` [C] and
/// `num_batches_tracked` (a counter).
///
/// With `fusedReLU` the layer computes relu(batchnorm(x)) in one pass (oneDNN's
/// `fuse_norm_relu`, which keeps the ReLU mask in a workspace for backward): the
/// conv-BN-ReLU pattern then reads and writes each activation once instead of twice.
/// Training runs the engine's own passes where the layout allows (BatchNorm+Native.swift).
///
/// With `synchronizer` set (a data-parallel run with SyncBatchNorm, through
/// `Model.synchronizeBatchNorm`), training
/// normalises with the statistics of the whole batch across processes, and backward adds the
/// terms the other processes' samples contribute through those statistics, as PyTorch's
/// `nn.SyncBatchNorm`.
public final class BatchNorm: Layer {
    /// Sums across the processes of a data-parallel job, for SyncBatchNorm; nil otherwise.
    public var synchronizer: BatchNormSynchronizer?

    public let channels: Int
    public let fusedReLU: Bool
    public let epsilon: Float
    public let momentum: Float
    public var computesInputGradient = true
    /// Backward reads the saved input and, with a fused ReLU, the workspace, never the output.
    public var backwardReadsOutput: Bool { false }
    let store: ParameterStore
    let weight, bias, runningMean, runningVar, batchesTracked: ParameterStore.Slot

    private final class Plan {
        let train: Primitive, eval: Primitive, backward: Primitive
        let data: MemoryDesc
        let workspace: MemoryDesc?
        /// SyncBatchNorm's: training with given (global) statistics, and the plain affine map
        /// scale * (x - mean) / sqrt(var + eps) + shift without the ReLU; made when first needed.
        var trainGlobal: Primitive?, affine: Primitive?
        /// A frozen norm's: training forward with the running statistics, and its backward to
        /// the input alone; made when first needed.
        var trainFrozen: Primitive?, backwardFrozen: Primitive?
        init(train: Primitive, eval: Primitive, backward: Primitive, fused: Bool) {
            self.train = train; self.eval = eval; self.backward = backward
            data = train.desc(dnnl_query_dst_md)
            workspace = fused ? train.desc(dnnl_query_workspace_md) : nil
        }
    }

    private var plans: [[Int]: Plan] = [:]
    private var plan: Plan!
    private var savedInput: Tensor?
    private var workspace: Tensor?
    /// The last training batch's mean and biased variance per channel.
    let mean: Tensor, variance: Tensor
    private let diffScale: Tensor, diffShift: Tensor
    /// Training fused with the 2x2 max pooling after it (BatchNorm+Pooling.swift), by input shape.
    var poolings: [[Int]: FusedPooling] = [:]
    /// The fused training that the last forward ran, nil after an unfused one.
    var pooling: FusedPooling?
    /// Training in the engine's own passes (BatchNorm+Native.swift), by input shape, and the
    /// one the last forward ran (nil after oneDNN's).
    var natives: [[Int]: NativeTraining] = [:]
    var native: NativeTraining?
    private let syncSum = TensorSum(relu: false)

    public init(_ b: ModelBuilder, _ name: String, _ channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1,
                fusedReLU: Bool = false) {
        self.channels = channels; self.epsilon = epsilon; self.momentum = momentum; self.fusedReLU = fusedReLU
        self.store = b.store
        weight = b.store.add(name + ".weight", shape: [channels], initial: [Float](repeating: 1, count: channels))
        bias = b.store.add(name + ".bias", shape: [channels], initial: [Float](repeating: 0, count: channels))
        runningMean = b.store.add(name + ".running_mean", shape: [channels], kind: .buffer, initial: [Float](repeating: 0, count: channels))
        runningVar = b.store.add(name + ".running_var", shape: [channels], kind: .buffer, initial: [Float](repeating: 1, count: channels))
        batchesTracked = b.store.add(name + ".num_batches_tracked", shape: [], kind: .counter, initial: [0])
        let c = MemoryDesc.plain([channels])
        mean = Tensor(c); variance = Tensor(c); diffScale = Tensor(c); diffShift = Tensor(c)
    }

    private var normFlags: UInt32 { dnnl_use_scale.rawValue | dnnl_use_shift.rawValue | (fusedReLU ? dnnl_fuse_norm_relu.rawValue : 0) }

    private func forwardPrimitive(_ x: MemoryDesc, _ prop: dnnl_prop_kind_t, _ flags: UInt32) -> Primitive {
        var data = x.raw
        var d = dnnl_batch_normalization_desc_t()
        dnnlCheck(dnnl_batch_normalization_forward_desc_init(&d, prop, &data, epsilon, flags), "batch norm forward desc")
        return Primitive(op: &d, what: "batch norm forward")
    }

    private func makePlan(_ x: MemoryDesc) -> Plan {
        var data = x.raw
        let flags = normFlags
        func forward(_ prop: dnnl_prop_kind_t, _ flags: UInt32) -> Primitive { forwardPrimitive(x, prop, flags) }
        let train = forward(dnnl_forward_training, flags)
        let eval = forward(dnnl_forward_inference, flags | dnnl_use_global_stats.rawValue)
        precondition(eval.desc(dnnl_query_dst_md) == train.desc(dnnl_query_dst_md), "batch norm layouts differ between modes")
        var bd = dnnl_batch_normalization_desc_t()
        dnnlCheck(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &data, &data, epsilon, flags), "batch norm backward desc")
        return Plan(train: train, eval: eval, backward: Primitive(op: &bd, hint: train, what: "batch norm backward"), fused: fusedReLU)
    }

    private func param(_ slot: ParameterStore.Slot) -> Tensor { Tensor(reading: store.value(slot), .plain([channels])) }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.shape.count >= 2 && x.shape[1] == channels, "BatchNorm expects \(channels) channels, got \(x.shape)")
        native = mode == .train ? nativeTraining(x.desc) : nil
        if let p = native { return forwardNative(x, p) }
        if plan == nil || plan.data != x.desc {
            let key = x.shape
            if let p = plans[key], p.data == x.desc { plan = p } else { plan = makePlan(x.desc); plans[key] = plan }
        }
        let out = Tensor(pooled: plan.data)
        if mode == .train && isFrozen {
            forwardFrozen(x, out)
        } else if mode == .train {
            var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, x), (DNNL_ARG_DST, out), (DNNL_ARG_SCALE, param(weight)),
                                           (DNNL_ARG_SHIFT, param(bias)), (DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance)]
            if let ws = plan.workspace { args.append((DNNL_ARG_WORKSPACE, reuse(&workspace, ws))) }
            plan.train.execute(args)
            var samples = x.count / channels
            if let sync = synchronizer {
                // This process's statistics (above) become the whole batch's, and the output is
                // normalised again with them.
                samples = globalStatistics(localSamples: samples, sync)
                if plan.trainGlobal == nil { plan.trainGlobal = forwardPrimitive(x.desc, dnnl_forward_training, normFlags | dnnl_use_global_stats.rawValue) }
                plan.trainGlobal!.execute(args)
            }
            updateRunningStatistics(samplesPerChannel: samples)
            savedInput = x
        } else {
            plan.eval.execute([(DNNL_ARG_SRC, x), (DNNL_ARG_DST, out), (DNNL_ARG_SCALE, param(weight)),
                               (DNNL_ARG_SHIFT, param(bias)), (DNNL_ARG_MEAN, param(runningMean)),
                               (DNNL_ARG_VARIANCE, param(runningVar))])
            savedInput = nil
        }
        return out
    }

    /// Replaces `mean` and `variance` (this process's, over `localSamples` per channel) by the
    /// whole batch's: sums of n * mean and n * (variance + mean^2) over the processes, in
    /// double. Returns the batch's samples per channel.
    private func globalStatistics(localSamples n: Int, _ sync: BatchNormSynchronizer) -> Int {
        var sums = [Double](repeating: 0, count: 2 * channels + 1)
        for c in 0..<channels {
            let m = Double(mean.floats[c]), v = Double(variance.floats[c])
            sums[c] = Double(n) * m
            sums[channels + c] = Double(n) * (v + m * m)
        }
        sums[2 * channels] = Double(n)
        sync.sum(&sums)
        let total = sums[2 * channels]
        for c in 0..<channels {
            let m = sums[c] / total
            mean.floats[c] = Float(m)
            variance.floats[c] = Float(max(sums[channels + c] / total - m * m, 0))
        }
        return Int(total.rounded())
    }

    func updateRunningStatistics(samplesPerChannel n: Int) {
        let unbias = n > 1 ? Float(n) / Float(n - 1) : 1
        store.modify(runningMean) { rm in
            for c in 0..<channels { rm[c] = (1 - momentum) * rm[c] + momentum * mean.floats[c] }
        }
        store.modify(runningVar) { rv in
            for c in 0..<channels { rv[c] = (1 - momentum) * rv[c] + momentum * variance.floats[c] * unbias }
        }
        store.modify(batchesTracked) { $0[0] += 1 }
    }

    /// The evaluation-mode affine map y = scale * x + shift per channel, from the running
    /// statistics: what a preceding convolution folds into its weights.
    func evaluationScaleShift() -> (scale: [Float], shift: [Float]) {
        let g = store.value(weight), b = store.value(bias), rm = store.value(runningMean), rv = store.value(runningVar)
        let scale = (0..<channels).map { g[$0] / (rv[$0] + epsilon).squareRoot() }
        return (scale, (0..<channels).map { b[$0] - rm[$0] * scale[$0] })
    }

    // MARK: Frozen

    /// Whether weight and bias are both frozen (`ParameterStore.setFrozen`). A frozen norm
    /// trains as it evaluates: it normalises with its running statistics and keeps them, as
    /// PyTorch's `requires_grad=False` with the module in `eval()`; backward passes the gradient
    /// through that fixed affine map (and the fused ReLU's mask) alone.
    public var isFrozen: Bool { store.isFrozen(weight) && store.isFrozen(bias) }

    private func forwardFrozen(_ x: Tensor, _ out: Tensor) {
        let flags = normFlags | dnnl_use_global_stats.rawValue
        if plan.trainFrozen == nil {
            let forward = forwardPrimitive(x.desc, dnnl_forward_training, flags)
            var data = x.desc.raw
            var bd = dnnl_batch_normalization_desc_t()
            // oneDNN 2.6 has no CPU kernel for backward_data with these flags: the full backward
            // runs, and its scale and shift gradients are dropped.
            dnnlCheck(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &data, &data, epsilon, flags),
                      "frozen batch norm backward desc")
            plan.trainFrozen = forward
            plan.backwardFrozen = Primitive(op: &bd, hint: forward, what: "frozen batch norm backward")
        }
        var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, x), (DNNL_ARG_DST, out), (DNNL_ARG_SCALE, param(weight)), (DNNL_ARG_SHIFT, param(bias)),
                                       (DNNL_ARG_MEAN, param(runningMean)), (DNNL_ARG_VARIANCE, param(runningVar))]
        if let ws = plan.workspace { args.append((DNNL_ARG_WORKSPACE, reuse(&workspace, ws))) }
        plan.trainFrozen!.execute(args)
        savedInput = x
    }

    private func backwardFrozen(_ x: Tensor, _ dy: Tensor, _ dx: Tensor) {
        var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, x), (DNNL_ARG_MEAN, param(runningMean)), (DNNL_ARG_VARIANCE, param(runningVar)),
                                       (DNNL_ARG_DIFF_DST, dy), (DNNL_ARG_SCALE, param(weight)), (DNNL_ARG_SHIFT, param(bias)),
                                       (DNNL_ARG_DIFF_SRC, dx), (DNNL_ARG_DIFF_SCALE, diffScale), (DNNL_ARG_DIFF_SHIFT, diffShift)]
        if plan.workspace != nil { args.append((DNNL_ARG_WORKSPACE, workspace!)) }
        plan.backwardFrozen!.execute(args)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        if let p = native { return backwardNative(dy, p) }
        guard let x = savedInput else { fatalError("BatchNorm.backward without a training forward") }
        defer { savedInput = nil }
        precondition(dy.desc == plan.data, "BatchNorm.backward: gradient layout differs from the output's")
        let dx = Tensor(pooled: plan.data)
        if isFrozen {
            backwardFrozen(x, dy, dx)
            return dx
        }
        // oneDNN 2.6 rejects the call (invalid arguments) unless SHIFT is passed too, though unused.
        var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, x), (DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance),
                                       (DNNL_ARG_DIFF_DST, dy), (DNNL_ARG_SCALE, param(weight)), (DNNL_ARG_SHIFT, param(bias)),
                                       (DNNL_ARG_DIFF_SRC, dx), (DNNL_ARG_DIFF_SCALE, diffScale), (DNNL_ARG_DIFF_SHIFT, diffShift)]
        if plan.workspace != nil { args.append((DNNL_ARG_WORKSPACE, workspace!)) }
        plan.backward.execute(args)
        if let sync = synchronizer { addOtherProcessesTerms(dx, x: x, sync) }
        accumulate(diffScale.floats, into: store.grad(weight), count: channels)
        accumulate(diffShift.floats, into: store.grad(bias), count: channels)
        return dx
    }

    /// SyncBatchNorm's backward. oneDNN's gives, with the batch's statistics but this process's
    /// sums, dx = g / sigma * (dy - s1 / n - xhat * s2 / n), s1 = sum of dy, s2 = sum of
    /// dy * xhat over this process's n samples per channel. With the whole batch's sums S1, S2
    /// (each process's gradient weighted by its share of the batch, as the trainer weights the
    /// parameters' gradients), dx is
    /// g / sigma * (dy - S1 / n - xhat * S2 / n) in this process's scale: the difference is the
    /// affine map g / (sigma * n) * ((s1 - S1) + xhat * (s2 - S2)), computed with oneDNN's
    /// normalisation (no ReLU) and added to dx.
    private func addOtherProcessesTerms(_ dx: Tensor, x: Tensor, _ sync: BatchNormSynchronizer) {
        let n = Double(x.count / channels), share = sync.share
        var sums = [Double](repeating: 0, count: 2 * channels)
        for c in 0..<channels {
            sums[c] = share * Double(diffShift.floats[c])
            sums[channels + c] = share * Double(diffScale.floats[c])
        }
        sync.sum(&sums)
        let g = store.value(weight)
        var scale = [Float](repeating: 0, count: channels), shift = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            let sigma = (Double(variance.floats[c]) + Double(epsilon)).squareRoot()
            let k = Double(g[c]) / (sigma * n)
            shift[c] = Float(k * (Double(diffShift.floats[c]) - sums[c]))
            scale[c] = Float(k * (Double(diffScale.floats[c]) - sums[channels + c]))
        }
        if plan.affine == nil {
            plan.affine = forwardPrimitive(x.desc, dnnl_forward_inference, dnnl_use_scale.rawValue | dnnl_use_shift.rawValue | dnnl_use_global_stats.rawValue)
        }
        let terms = Tensor(pooled: plan.data)
        let scaleT = Tensor(.plain([channels])), shiftT = Tensor(.plain([channels]))
        scaleT.load(scale); shiftT.load(shift)
        plan.affine!.execute([(DNNL_ARG_SRC, x), (DNNL_ARG_DST, terms), (DNNL_ARG_SCALE, scaleT), (DNNL_ARG_SHIFT, shiftT),
                              (DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance)])
        syncSum.run(dx, terms, into: dx)
    }
}
