internal import CDNNL

/// dx = dy where y > 0, else 0, with y = relu(...) the forward output: oneDNN's eltwise
/// backward (`relu_use_dst_for_bwd`), on oneDNN's threads (see TensorSum for why).
final class ReLUGradient {
    private var primitive: Primitive?
    private var layout: MemoryDesc?

    func run(dy: Tensor, output y: Tensor, into dx: Tensor) {
        precondition(dy.desc == y.desc && dx.desc == y.desc, "ReLUGradient: operands differ in layout")
        if layout != y.desc {
            var data = y.desc.raw, diff = y.desc.raw
            var f = dnnl_eltwise_desc_t()
            dnnlCheck(dnnl_eltwise_forward_desc_init(&f, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd, &data, 0, 0),
                      "relu forward desc")
            let hint = Primitive(op: &f, what: "relu forward")
            var b = dnnl_eltwise_desc_t()
            dnnlCheck(dnnl_eltwise_backward_desc_init(&b, dnnl_eltwise_relu_use_dst_for_bwd, &diff, &data, 0, 0), "relu backward desc")
            primitive = Primitive(op: &b, hint: hint, what: "relu backward")
            layout = y.desc
        }
        primitive!.execute([(DNNL_ARG_DST, y), (DNNL_ARG_DIFF_DST, dy), (DNNL_ARG_DIFF_SRC, dx)])
    }
}
