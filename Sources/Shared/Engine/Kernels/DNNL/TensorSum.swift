internal import CDNNL

/// z = a + b, or relu(a + b), element-wise over tensors of one layout: oneDNN's binary
/// primitive (with an eltwise post-op for the ReLU). It runs on oneDNN's OpenMP threads like
/// every other primitive, so no second thread pool competes with them for the cores (a Swift
/// loop on Dispatch threads did, and lost ~10% of a resnet20 step to OpenMP spin-waiting).
final class TensorSum {
    let relu: Bool
    private var primitive: Primitive?
    private var layout: MemoryDesc?

    init(relu: Bool) { self.relu = relu }

    func run(_ a: Tensor, _ b: Tensor, into z: Tensor) {
        precondition(a.desc == b.desc && a.desc == z.desc, "TensorSum: operands differ in layout")
        if layout != a.desc {
            var x = a.desc.raw, y = a.desc.raw, out = a.desc.raw
            var d = dnnl_binary_desc_t()
            dnnlCheck(dnnl_binary_desc_init(&d, dnnl_binary_add, &x, &y, &out), "binary add desc")
            primitive = Primitive(op: &d, attributes: relu ? PostOps(relu: true) : nil, what: relu ? "relu(sum)" : "sum")
            layout = a.desc
        }
        primitive!.execute([(DNNL_ARG_SRC_0, a), (DNNL_ARG_SRC_1, b), (DNNL_ARG_DST, z)])
    }
}
