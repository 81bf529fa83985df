internal import CDNNL

/// max(x, 0), element-wise, in the input's layout (oneDNN's eltwise primitive). Where a ReLU
/// follows a BatchNorm or a residual sum, the models fuse it there instead.
public final class ReLU: Layer {
    public var computesInputGradient = true
    private var forwardPrimitive: Primitive?
    private var layout: MemoryDesc?
    private let gradient = ReLUGradient()
    private var savedOutput: Tensor?

    public init() {}

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        if layout != x.desc {
            var data = x.desc.raw
            var d = dnnl_eltwise_desc_t()
            dnnlCheck(dnnl_eltwise_forward_desc_init(&d, dnnl_forward_training, dnnl_eltwise_relu, &data, 0, 0), "relu forward desc")
            forwardPrimitive = Primitive(op: &d, what: "relu forward")
            layout = x.desc
        }
        let out = Tensor(pooled: x.desc)
        forwardPrimitive!.execute([(DNNL_ARG_SRC, x), (DNNL_ARG_DST, out)])
        savedOutput = mode == .train ? out : nil
        return out
    }

    /// dx = dy where the output is positive, else 0.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let y = savedOutput else { fatalError("ReLU.backward without a training forward") }
        defer { savedOutput = nil }
        precondition(dy.desc == y.desc, "ReLU.backward: gradient layout differs from the output's")
        let dx = Tensor(pooled: y.desc)
        gradient.run(dy: dy, output: y, into: dx)
        return dx
    }
}
