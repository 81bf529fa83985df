internal import CDNNL

/// The bounded and leaky rectifiers, element-wise in the input's layout (oneDNN's eltwise
/// primitives, backward from the output): PyTorch's `nn.ReLU6` (min(max(x, 0), 6), gradient 1
/// strictly inside (0, 6), as `hardtanh`) and `nn.LeakyReLU(negative_slope)` (x for x > 0,
/// slope * x otherwise). Plain ReLU is `ReLU`, or fused into the BatchNorm before it.
public final class Activation: Layer {
    public enum Kind: Equatable, Sendable {
        case relu6
        /// The slope must not be negative: backward tells the sides apart by the output's sign.
        case leakyReLU(slope: Float)
    }

    public let kind: Kind
    public var computesInputGradient = true
    private var forwardPrimitive: Primitive?
    private var backwardPrimitive: Primitive?
    private var layout: MemoryDesc?
    private var savedOutput: Tensor?

    public init(_ kind: Kind) {
        if case .leakyReLU(let slope) = kind { precondition(slope >= 0, "LeakyReLU slope must be >= 0, got \(slope)") }
        self.kind = kind
    }

    /// oneDNN's algorithm and its alpha, beta.
    private var algorithm: (dnnl_alg_kind_t, Float, Float) {
        switch kind {
        case .relu6: return (dnnl_eltwise_clip_v2_use_dst_for_bwd, 0, 6)
        case .leakyReLU(let slope): return (dnnl_eltwise_relu_use_dst_for_bwd, slope, 0)
        }
    }

    private func makePrimitives(_ desc: MemoryDesc) {
        let (alg, alpha, beta) = algorithm
        var data = desc.raw, diff = desc.raw
        var f = dnnl_eltwise_desc_t()
        dnnlCheck(dnnl_eltwise_forward_desc_init(&f, dnnl_forward_training, alg, &data, alpha, beta), "activation forward desc")
        let forward = Primitive(op: &f, what: "activation forward")
        var b = dnnl_eltwise_desc_t()
        dnnlCheck(dnnl_eltwise_backward_desc_init(&b, alg, &diff, &data, alpha, beta), "activation backward desc")
        forwardPrimitive = forward
        backwardPrimitive = Primitive(op: &b, hint: forward, what: "activation backward")
        layout = desc
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        if layout != x.desc { makePrimitives(x.desc) }
        let out = Tensor(pooled: x.desc)
        forwardPrimitive!.execute([(DNNL_ARG_SRC, x), (DNNL_ARG_DST, out)])
        savedOutput = mode == .train ? out : nil
        return out
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let y = savedOutput else { fatalError("Activation.backward without a training forward") }
        defer { savedOutput = nil }
        precondition(dy.desc == y.desc, "Activation.backward: gradient layout differs from the output's")
        let dx = Tensor(pooled: y.desc)
        backwardPrimitive!.execute([(DNNL_ARG_DST, y), (DNNL_ARG_DIFF_DST, dy), (DNNL_ARG_DIFF_SRC, dx)])
        return dx
    }
}
