internal import CDNNL

/// Fully connected layer, PyTorch `nn.Linear`: y = x W^T + b, x [N, in], W [out, in], b [out].
/// Weights stay in the plain [out, in] layout (these layers are small next to the convolutions).
public final class Linear: Layer {
    public let inFeatures, outFeatures: Int
    public var computesInputGradient = true
    /// Weight and bias frozen (`ParameterStore.setFrozen`): backward skips their gradients.
    public var isFrozen: Bool { store.isFrozen(weight) && (bias.map { store.isFrozen($0) } ?? true) }
    let store: ParameterStore
    let weight: ParameterStore.Slot
    let bias: ParameterStore.Slot?

    private final class Plan {
        let forward: Primitive, inference: Primitive, backwardData: Primitive, backwardWeights: Primitive
        let source: MemoryDesc, output: MemoryDesc
        init(forward: Primitive, inference: Primitive, backwardData: Primitive, backwardWeights: Primitive, source: MemoryDesc) {
            self.forward = forward; self.inference = inference
            self.backwardData = backwardData; self.backwardWeights = backwardWeights
            self.source = source
            output = forward.desc(dnnl_query_dst_md)
        }
    }

    private var plans: [Int: Plan] = [:]
    private var plan: Plan!
    private var savedInput: Tensor?
    private let diffWeights: Tensor
    private let diffBias: Tensor

    public init(_ b: ModelBuilder, _ name: String, _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true,
                init weightInit: WeightInit = .pytorchDefault, biasInit: WeightInit? = nil) {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        self.store = b.store
        weight = b.store.add(name + ".weight", shape: [outFeatures, inFeatures],
                             initial: weightInit.values(count: inFeatures * outFeatures, fanIn: inFeatures, fanOut: outFeatures, rng: &b.rng))
        self.bias = bias ? b.store.add(name + ".bias", shape: [outFeatures],
                                       initial: (biasInit ?? .pytorchDefault).values(count: outFeatures, fanIn: inFeatures, fanOut: outFeatures, rng: &b.rng)) : nil
        diffWeights = Tensor(.plain([outFeatures, inFeatures]))
        diffBias = Tensor(.plain([outFeatures]))
    }

    private var weightDesc: MemoryDesc { .plain([outFeatures, inFeatures]) }

    private func makePlan(batch n: Int) -> Plan {
        var src = MemoryDesc.plain([n, inFeatures]).raw, wts = weightDesc.raw
        var bia = MemoryDesc.plain([outFeatures]).raw, dst = MemoryDesc.plain([n, outFeatures]).raw
        func forward(_ prop: dnnl_prop_kind_t) -> Primitive {
            var d = dnnl_inner_product_desc_t()
            withOptionalPointer(bias != nil ? bia : nil) { bp in
                dnnlCheck(dnnl_inner_product_forward_desc_init(&d, prop, &src, &wts, bp, &dst), "inner product forward desc")
            }
            return Primitive(op: &d, what: "inner product forward")
        }
        let fwd = forward(dnnl_forward_training)
        var bd = dnnl_inner_product_desc_t()
        dnnlCheck(dnnl_inner_product_backward_data_desc_init(&bd, &src, &wts, &dst), "inner product backward-data desc")
        var bw = dnnl_inner_product_desc_t()
        withOptionalPointer(bias != nil ? bia : nil) { bp in
            dnnlCheck(dnnl_inner_product_backward_weights_desc_init(&bw, &src, &wts, bp, &dst), "inner product backward-weights desc")
        }
        return Plan(forward: fwd, inference: forward(dnnl_forward_inference),
                    backwardData: Primitive(op: &bd, hint: fwd, what: "inner product backward data"),
                    backwardWeights: Primitive(op: &bw, hint: fwd, what: "inner product backward weights"),
                    source: .plain([n, inFeatures]))
    }

    /// Floating-point operations of the last forward pass (2 per multiply-add).
    public private(set) var lastForwardFLOPs = 0

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.shape.count == 2 && x.shape[1] == inFeatures && x.desc.isPlain,
                     "Linear expects plain [N, \(inFeatures)], got \(x.shape)")
        let n = x.shape[0]
        if plan == nil || plan.source.dims[0] != n {
            if let p = plans[n] { plan = p } else { plan = makePlan(batch: n); plans[n] = plan }
        }
        let out = Tensor(pooled: plan.output)
        lastForwardFLOPs = 2 * n * inFeatures * outFeatures
        var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, x), (DNNL_ARG_WEIGHTS, Tensor(reading: store.value(weight), weightDesc)),
                                       (DNNL_ARG_DST, out)]
        if let bias { args.append((DNNL_ARG_BIAS, Tensor(reading: store.value(bias), .plain([outFeatures])))) }
        (mode == .train ? plan.forward : plan.inference).execute(args)
        savedInput = mode == .train ? x : nil
        return out
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = savedInput else { fatalError("Linear.backward without a training forward") }
        defer { savedInput = nil }
        if !isFrozen {
            var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, x), (DNNL_ARG_DIFF_DST, dy), (DNNL_ARG_DIFF_WEIGHTS, diffWeights)]
            if bias != nil { args.append((DNNL_ARG_DIFF_BIAS, diffBias)) }
            plan.backwardWeights.execute(args)
            accumulate(diffWeights.floats, into: store.grad(weight), count: inFeatures * outFeatures)
            if let bias { accumulate(diffBias.floats, into: store.grad(bias), count: outFeatures) }
        }
        guard computesInputGradient else { return dy }
        let dx = Tensor(pooled: plan.source)
        plan.backwardData.execute([(DNNL_ARG_DIFF_DST, dy), (DNNL_ARG_WEIGHTS, Tensor(reading: store.value(weight), weightDesc)),
                                   (DNNL_ARG_DIFF_SRC, dx)])
        return dx
    }
}
