#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Row-wise log-softmax helpers shared by the losses. Computed with the row maximum
/// subtracted and accumulated in Double, so logits of magnitude 1e4 and temperatures from
/// 0.5 to 100 stay finite.
enum Softmax {
    /// log softmax(z / temperature) of one row of `k` logits, into `out`.
    @inline(__always)
    static func logSoftmax(_ z: UnsafePointer<Float>, _ k: Int, temperature: Double, into out: UnsafeMutablePointer<Double>) {
        var m = -Double.infinity
        for j in 0..<k { m = max(m, Double(z[j]) / temperature) }
        var s = 0.0
        for j in 0..<k { s += exp(Double(z[j]) / temperature - m) }
        let lse = m + log(s)
        for j in 0..<k { out[j] = Double(z[j]) / temperature - lse }
    }

    /// log softmax(z / temperature) of a row of Double logits, over the classes other than
    /// `excluding` (whose entry is set to -infinity); all classes when `excluding` is nil.
    static func logSoftmax(_ z: UnsafePointer<Double>, _ k: Int, temperature: Double, excluding: Int? = nil,
                           into out: UnsafeMutablePointer<Double>) {
        var m = -Double.infinity
        for j in 0..<k where j != excluding { m = max(m, z[j] / temperature) }
        var s = 0.0
        for j in 0..<k where j != excluding { s += exp(z[j] / temperature - m) }
        let lse = m + log(s)
        for j in 0..<k { out[j] = j == excluding ? -.infinity : z[j] / temperature - lse }
    }
}
