internal import CDNNL

/// C = alpha * op(A) * op(B) + beta * C for row-major float matrices: oneDNN's `dnnl_sgemm`
/// (its JIT GEMM, on the same OpenMP threads as every primitive). op(X) is X or its transpose.
enum Gemm {
    static func run(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        dnnlCheck(dnnl_sgemm(CChar(UInt8(ascii: transposeA ? "T" : "N")), CChar(UInt8(ascii: transposeB ? "T" : "N")),
                             dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), alpha, a, dnnl_dim_t(lda), b, dnnl_dim_t(ldb),
                             beta, c, dnnl_dim_t(ldc)), "sgemm")
    }
}
