#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Hinton's knowledge-distillation loss:
///
///     alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)
///
/// `alpha` weighs the soft (teacher) term, as in Hinton et al. and the classic PyTorch KD code.
/// The KL is summed over classes and averaged over the batch ("batchmean"); `.mean` divides
/// by batch x classes instead, reproducing the classic repository's `nn.KLDivLoss()` default.
/// alpha = 0 is plain cross-entropy (the scratch baseline) and needs no teacher logits.
public struct DistillationLoss: Sendable {
    public enum KLReduction: String, Codable, CaseIterable, Sendable { case batchmean, mean }

    public var alpha: Float
    public var temperature: Float
    public var klReduction: KLReduction

    public init(alpha: Float, temperature: Float, klReduction: KLReduction = .batchmean) {
        precondition(alpha >= 0 && alpha <= 1, "alpha must be in [0, 1]")
        precondition(temperature > 0, "temperature must be positive")
        self.alpha = alpha; self.temperature = temperature; self.klReduction = klReduction
    }

    /// The share of rows of `teacher` ([rows, k]) whose softened distribution softmax(t/T) is
    /// one-hot in float32: every class but the top one underflows to 0. At such a temperature
    /// the KD term only copies the teacher's arg-max, scaled down by T^2.
    public static func oneHotShare(teacher: [Float], classes k: Int, temperature: Float) -> Double {
        let rows = teacher.count / k
        guard rows > 0 else { return 0 }
        var oneHot = 0
        for r in 0..<rows {
            let row = teacher[(r * k)..<(r * k + k)]
            let top = row.max()!
            if row.filter({ expf(($0 - top) / temperature) > 0 }).count == 1 { oneHot += 1 }
        }
        return Double(oneHot) / Double(rows)
    }

    public struct Value: Sendable {
        /// The total loss.
        public var loss: Double
        /// alpha * T^2 * KL (0 when alpha = 0).
        public var soft: Double
        /// (1 - alpha) * CE.
        public var hard: Double
    }

    /// The loss over `labels.count` rows of `k` student logits and (when alpha > 0) teacher
    /// logits; writes dL/d(student logits) into `gradient`.
    public func compute(student: UnsafePointer<Float>, teacher: UnsafePointer<Float>?, labels: [Int32], classes k: Int,
                        gradient: UnsafeMutablePointer<Float>) -> Value {
        let n = labels.count
        let hard = CrossEntropy.compute(logits: student, labels: labels, classes: k, gradient: gradient, weight: 1 - alpha)
        guard alpha > 0 else { return Value(loss: Double(1 - alpha) * hard, soft: 0, hard: Double(1 - alpha) * hard) }
        guard let teacher else { preconditionFailure("alpha > 0 needs teacher logits") }
        let t = Double(temperature)
        let divisor = Double(klReduction == .batchmean ? n : n * k)
        // d/ds of alpha T^2 KL / divisor = alpha T (p_s - p_t) / divisor.
        let gradScale = Double(alpha) * t / divisor
        let logPs = UnsafeMutablePointer<Double>.allocate(capacity: k), logPt = UnsafeMutablePointer<Double>.allocate(capacity: k)
        defer { logPs.deallocate(); logPt.deallocate() }
        var kl = 0.0
        for i in 0..<n {
            Softmax.logSoftmax(student + i * k, k, temperature: t, into: logPs)
            Softmax.logSoftmax(teacher + i * k, k, temperature: t, into: logPt)
            for j in 0..<k {
                let pt = exp(logPt[j])
                if pt > 0 { kl += pt * (logPt[j] - logPs[j]) }  // 0 * log 0 = 0, as torch.xlogy
                gradient[i * k + j] += Float(gradScale * (exp(logPs[j]) - pt))
            }
        }
        let soft = Double(alpha) * t * t * kl / divisor
        return Value(loss: soft + Double(1 - alpha) * hard, soft: soft, hard: Double(1 - alpha) * hard)
    }
}
