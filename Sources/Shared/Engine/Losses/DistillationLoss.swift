#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The student's loss: cross-entropy on the labels plus a distillation term on the teacher's
/// logits,
///
///     alpha * T^2 * soft(teacher, student) + (1 - alpha) * CE(s, y)
///
/// where `soft` is Hinton's KL(softmax(t/T) || softmax(s/T)) (`method` .kd) or DKD's weighted
/// target and non-target terms (`.dkd`, see `DecoupledKD`), on the raw logits or, with
/// `standardizeLogits`, on their per-row z-scores (`LogitStandardization`). `alpha` weighs the
/// soft term, as in Hinton et al. and the classic PyTorch KD code.
/// The soft term is summed over classes and averaged over the batch ("batchmean"); `.mean`
/// divides KD's by batch x classes instead, reproducing the classic repository's
/// `nn.KLDivLoss()` default. alpha = 0 is plain cross-entropy (the scratch baseline) and needs
/// no teacher logits.
public struct DistillationLoss: Sendable {
    public enum KLReduction: String, Codable, CaseIterable, Sendable { case batchmean, mean }
    public enum Method: String, Codable, CaseIterable, Sendable { case kd, dkd }

    public var alpha: Float
    public var temperature: Float
    public var klReduction: KLReduction
    public var method: Method
    /// Z-score both rows of logits before the soft term (logit standardisation, CVPR 2024).
    public var standardizeLogits: Bool
    /// DKD's weights of its target-class and non-target terms (mdistiller's ALPHA and BETA).
    public var dkdTargetWeight: Float
    public var dkdNonTargetWeight: Float

    public init(alpha: Float, temperature: Float, klReduction: KLReduction = .batchmean, method: Method = .kd,
                standardizeLogits: Bool = false, dkdTargetWeight: Float = 1, dkdNonTargetWeight: Float = 8) {
        precondition(alpha >= 0 && alpha <= 1, "alpha must be in [0, 1]")
        precondition(temperature > 0, "temperature must be positive")
        precondition(method == .kd || klReduction == .batchmean, "DKD averages over the batch only")
        self.alpha = alpha; self.temperature = temperature; self.klReduction = klReduction
        self.method = method; self.standardizeLogits = standardizeLogits
        self.dkdTargetWeight = dkdTargetWeight; self.dkdNonTargetWeight = dkdNonTargetWeight
    }

    /// How many rows of `teacher` ([rows, k]) have a softened distribution softmax(t/T) that is
    /// one-hot in float32: every class but the top one underflows to 0. At such a temperature
    /// the KD term only copies the teacher's arg-max, scaled down by T^2.
    public static func oneHotRows(teacher: [Float], classes k: Int, temperature: Float) -> Int {
        var oneHot = 0
        for r in 0..<(teacher.count / k) {
            let row = teacher[(r * k)..<(r * k + k)]
            let top = row.max()!
            if row.lazy.filter({ expf(($0 - top) / temperature) > 0 }).count == 1 { oneHot += 1 }
        }
        return oneHot
    }

    public struct Value: Sendable {
        /// The total loss.
        public var loss: Double
        /// alpha * T^2 * soft term, times the warm-up factor (0 when alpha = 0).
        public var soft: Double
        /// (1 - alpha) * CE.
        public var hard: Double
    }

    /// The loss over `labels.count` rows of `k` student logits and (when alpha > 0) teacher
    /// logits; writes dL/d(student logits) into `gradient`. `softScale` multiplies the soft
    /// term (DKD's linear warm-up: min(epoch / warmup, 1)).
    public func compute(student: UnsafePointer<Float>, teacher: UnsafePointer<Float>?, labels: [Int32], classes k: Int,
                        gradient: UnsafeMutablePointer<Float>, softScale: Float = 1) -> Value {
        let n = labels.count
        let hard = Double(1 - alpha) * CrossEntropy.compute(logits: student, labels: labels, classes: k, gradient: gradient, weight: 1 - alpha)
        guard alpha > 0 else { return Value(loss: hard, soft: 0, hard: hard) }
        guard let teacher else { preconditionFailure("alpha > 0 needs teacher logits") }
        let t = Double(temperature)
        let divisor = Double(klReduction == .batchmean ? n : n * k)
        let coefficient = Double(alpha) * Double(softScale)
        // Rows in Double: student, teacher, the gradient with respect to u = z / T, scratch.
        let buffer = UnsafeMutablePointer<Double>.allocate(capacity: 7 * k)
        defer { buffer.deallocate() }
        let zs = buffer, zt = buffer + k, du = buffer + 2 * k, scratch = buffer + 3 * k
        var soft = 0.0
        for i in 0..<n {
            for j in 0..<k { zs[j] = Double(student[i * k + j]); zt[j] = Double(teacher[i * k + j]) }
            var scale = 1.0
            if standardizeLogits {
                scale = LogitStandardization.forward(zs, k, into: zs)
                LogitStandardization.forward(zt, k, into: zt)
            }
            switch method {
            case .kd:
                soft += Self.klRow(student: zs, teacher: zt, k, temperature: t, scratch: scratch, gradient: du)
            case .dkd:
                soft += DecoupledKD.row(student: zs, teacher: zt, k, label: Int(labels[i]), temperature: t,
                                        targetWeight: Double(dkdTargetWeight), nonTargetWeight: Double(dkdNonTargetWeight),
                                        scratch: scratch, gradient: du)
            }
            // d/dz of coefficient T^2 soft / divisor = coefficient T / divisor * d soft/du.
            for j in 0..<k { du[j] *= coefficient * t / divisor }
            if standardizeLogits { LogitStandardization.backward(zs, k, scale: scale, gradient: du) }
            for j in 0..<k { gradient[i * k + j] += Float(du[j]) }
        }
        let softLoss = coefficient * t * t * soft / divisor
        return Value(loss: softLoss + hard, soft: softLoss, hard: hard)
    }

    /// Hinton's KL(softmax(zt/T) || softmax(zs/T)) of one row; writes its gradient with respect
    /// to u = zs / T, softmax(u) - softmax(zt/T), into `gradient`. `scratch` holds 2 * k Doubles.
    private static func klRow(student zs: UnsafePointer<Double>, teacher zt: UnsafePointer<Double>, _ k: Int, temperature t: Double,
                              scratch: UnsafeMutablePointer<Double>, gradient: UnsafeMutablePointer<Double>) -> Double {
        let logPs = scratch, logPt = scratch + k
        Softmax.logSoftmax(zs, k, temperature: t, into: logPs)
        Softmax.logSoftmax(zt, k, temperature: t, into: logPt)
        var kl = 0.0
        for j in 0..<k {
            let pt = exp(logPt[j])
            if pt > 0 { kl += pt * (logPt[j] - logPs[j]) }  // 0 * log 0 = 0, as torch.xlogy
            gradient[j] = exp(logPs[j]) - pt
        }
        return kl
    }
}
