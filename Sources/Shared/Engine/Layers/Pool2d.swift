internal import CDNNL

/// Max or average pooling over square windows (PyTorch `nn.MaxPool2d`, `nn.AvgPool2d` with
/// `count_include_pad=True`, floor output size). `GlobalAvgPool` averages each whole plane.
/// 2x2 max pooling with stride 2 on channels-innermost layouts, the common case, runs the
/// project's own kernel (`MaxPool2x2`, 10x faster than oneDNN 2.6's on AVX2); the rest oneDNN.
public final class Pool2d: Layer {
    public enum Kind: Sendable { case max, average }
    public let kind: Kind
    public let kernel, stride, padding: Int
    public var computesInputGradient = true

    private final class Plan {
        enum Kernels {
            case oneDNN(forward: Primitive, inference: Primitive, backward: Primitive)
            /// The workspace holds the argmax, one Float per output element.
            case native(MaxPool2x2)
        }
        let kernels: Kernels
        let source: MemoryDesc, output: MemoryDesc, workspace: MemoryDesc?
        init(forward: Primitive, inference: Primitive, backward: Primitive, source: MemoryDesc, hasWorkspace: Bool) {
            kernels = .oneDNN(forward: forward, inference: inference, backward: backward)
            self.source = source
            output = forward.desc(dnnl_query_dst_md)
            workspace = hasWorkspace ? forward.desc(dnnl_query_workspace_md) : nil
        }
        init(_ pool: MaxPool2x2, source: MemoryDesc, output: MemoryDesc) {
            kernels = .native(pool)
            self.source = source; self.output = output; workspace = output
        }
    }

    private var plans: [[Int]: Plan] = [:]
    private var plan: Plan!
    private var workspace: Tensor?
    private var trained = false

    public init(_ kind: Kind, kernel: Int, stride: Int? = nil, padding: Int = 0) {
        self.kind = kind; self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding
    }

    public func outputSize(_ n: Int) -> Int { (n + 2 * padding - kernel) / stride + 1 }

    /// PyTorch's `nn.MaxPool2d(2)`: what a batch norm before it can run fused with.
    var isMax2x2: Bool { kind == .max && kernel == 2 && stride == 2 && padding == 0 }

    private func makePlan(_ x: MemoryDesc) -> Plan {
        let dims = x.dims
        let outDims = [dims[0], dims[1], outputSize(dims[2]), outputSize(dims[3])]
        if isMax2x2, let pool = MaxPool2x2(x) {
            return Plan(pool, source: x, output: MemoryDesc(outDims, pool.layout))  // the input's layout
        }
        var src = x.raw, dst = MemoryDesc.any(outDims).raw
        let alg = kind == .max ? dnnl_pooling_max : dnnl_pooling_avg_include_padding
        let k: [Int64] = [Int64(kernel), Int64(kernel)], s: [Int64] = [Int64(stride), Int64(stride)]
        let dil: [Int64] = [0, 0], padL: [Int64] = [Int64(padding), Int64(padding)]
        // oneDNN's size formula divides with floor, so padding_r = padding gives PyTorch's size.
        func forward(_ prop: dnnl_prop_kind_t) -> Primitive {
            var d = dnnl_pooling_v2_desc_t()
            dnnlCheck(dnnl_pooling_v2_forward_desc_init(&d, prop, alg, &src, &dst, s, k, dil, padL, padL), "pooling forward desc")
            return Primitive(op: &d, what: "pooling forward")
        }
        let fwd = forward(dnnl_forward_training)
        dst = fwd.desc(dnnl_query_dst_md).raw  // inference writes the training layout too
        var fdst = fwd.desc(dnnl_query_dst_md).raw
        var bd = dnnl_pooling_v2_desc_t()
        dnnlCheck(dnnl_pooling_v2_backward_desc_init(&bd, alg, &src, &fdst, s, k, dil, padL, padL), "pooling backward desc")
        return Plan(forward: fwd, inference: forward(dnnl_forward_inference),
                    backward: Primitive(op: &bd, hint: fwd, what: "pooling backward"), source: x, hasWorkspace: kind == .max)
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.shape.count == 4, "Pool2d expects [N, C, H, W], got \(x.shape)")
        if plan == nil || plan.source != x.desc {
            if let p = plans[x.shape], p.source == x.desc { plan = p } else { plan = makePlan(x.desc); plans[x.shape] = plan }
        }
        let out = Tensor(pooled: plan.output)
        switch plan.kernels {
        case .native(let pool):
            pool.forward(x.floats, out.floats, argmax: mode == .train ? reuse(&workspace, plan.workspace!).floats : nil)
        case .oneDNN(let forward, let inference, _):
            if mode == .train {
                var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, x), (DNNL_ARG_DST, out)]
                if let ws = plan.workspace { args.append((DNNL_ARG_WORKSPACE, reuse(&workspace, ws))) }
                forward.execute(args)
            } else {
                inference.execute([(DNNL_ARG_SRC, x), (DNNL_ARG_DST, out)])
            }
        }
        trained = mode == .train
        return out
    }

    public func backward(_ dy: Tensor) -> Tensor {
        precondition(trained, "Pool2d.backward without a training forward")
        precondition(dy.desc == plan.output, "Pool2d.backward: gradient layout differs from the output's")
        let dx = Tensor(pooled: plan.source)
        switch plan.kernels {
        case .native(let pool):
            pool.backward(dy.floats, argmax: workspace!.floats, dx.floats)
        case .oneDNN(_, _, let backward):
            var args: [(Int32, Tensor)] = [(DNNL_ARG_DIFF_DST, dy), (DNNL_ARG_DIFF_SRC, dx)]
            if plan.workspace != nil { args.append((DNNL_ARG_WORKSPACE, workspace!)) }
            backward.execute(args)
        }
        return dx
    }
}

/// Average over each whole H x W plane: [N, C, H, W] -> [N, C, 1, 1]. Works for any input size.
public final class GlobalAvgPool: Layer {
    public var computesInputGradient = true
    private var pool: Pool2d?

    public init() {}

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[2] == x.shape[3], "GlobalAvgPool expects square planes, got \(x.shape)")
        if pool == nil || pool!.kernel != x.shape[2] { pool = Pool2d(.average, kernel: x.shape[2]) }
        return pool!.forward(x, mode: mode)
    }

    public func backward(_ dy: Tensor) -> Tensor { pool!.backward(dy) }
}
