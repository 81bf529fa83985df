#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Softmax cross-entropy averaged over the batch, PyTorch's `F.cross_entropy(logits, labels)`.
public enum CrossEntropy {
    /// Mean loss over `n` rows of `k` logits; writes dL/dlogits = (softmax - onehot) / n into
    /// `gradient` (scaled by `weight`, added when `accumulate`).
    @discardableResult
    public static func compute(logits: UnsafePointer<Float>, labels: [Int32], classes k: Int,
                               gradient: UnsafeMutablePointer<Float>? = nil, weight: Float = 1,
                               accumulate: Bool = false) -> Double {
        let n = labels.count
        var total = 0.0
        let logp = UnsafeMutablePointer<Double>.allocate(capacity: k)
        defer { logp.deallocate() }
        for i in 0..<n {
            let row = logits + i * k
            Softmax.logSoftmax(row, k, temperature: 1, into: logp)
            let y = Int(labels[i])
            precondition(y >= 0 && y < k, "label \(y) outside 0..<\(k)")
            total -= logp[y]
            if let g = gradient {
                let scale = Double(weight) / Double(n)
                for j in 0..<k {
                    let v = Float((exp(logp[j]) - (j == y ? 1 : 0)) * scale)
                    g[i * k + j] = accumulate ? g[i * k + j] + v : v
                }
            }
        }
        return total / Double(n)
    }
}
