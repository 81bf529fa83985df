#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Decoupled knowledge distillation (Zhao et al., "Decoupled Knowledge Distillation", CVPR 2022;
/// mdistiller's `DKD.py`). Hinton's KL splits into a target-class term (TCKD: the binary
/// distribution target vs. rest) and a non-target term (NCKD: the distribution over the other
/// classes, renormalised), which DKD weighs separately:
///
///     targetWeight * KL(b_t || b_s) + nonTargetWeight * KL(q_t || q_s)
///
/// with b = (p_y, 1 - p_y) and q_j = p_j / (1 - p_y) for j != y, p = softmax(z / T). The caller
/// scales by T^2 / batch (`DistillationLoss`). The reference masks the target class out of q by
/// subtracting 1000 from its logit; this excludes it exactly, which is the same for logits under
/// 1000 * T apart.
enum DecoupledKD {
    /// One row: returns targetWeight * TCKD + nonTargetWeight * NCKD and writes its gradient
    /// with respect to u = z / T into `gradient`. `scratch` holds 4 * k Doubles.
    static func row(student zs: UnsafePointer<Double>, teacher zt: UnsafePointer<Double>, _ k: Int, label y: Int,
                    temperature t: Double, targetWeight a: Double, nonTargetWeight b: Double,
                    scratch: UnsafeMutablePointer<Double>, gradient: UnsafeMutablePointer<Double>) -> Double {
        let logPs = scratch, logPt = scratch + k, logQs = scratch + 2 * k, logQt = scratch + 3 * k
        Softmax.logSoftmax(zs, k, temperature: t, into: logPs)
        Softmax.logSoftmax(zt, k, temperature: t, into: logPt)
        Softmax.logSoftmax(zs, k, temperature: t, excluding: y, into: logQs)
        Softmax.logSoftmax(zt, k, temperature: t, excluding: y, into: logQt)

        // TCKD: KL between the binary distributions (target, rest); 0 * log 0 = 0 as torch.xlogy.
        // log(1 - p_y) = log p_j - log q_j for any j != y.
        let other = y == 0 ? 1 : 0
        let logRestS = logPs[other] - logQs[other], logRestT = logPt[other] - logQt[other]
        let targetS = exp(logPs[y]), targetT = exp(logPt[y]), restT = exp(logRestT)
        var tckd = 0.0
        if targetT > 0 { tckd += targetT * (logPt[y] - logPs[y]) }
        if restT > 0 { tckd += restT * (logRestT - logRestS) }

        // NCKD: KL between the distributions over the non-target classes.
        var nckd = 0.0
        for j in 0..<k where j != y {
            let qt = exp(logQt[j])
            if qt > 0 { nckd += qt * (logQt[j] - logQs[j]) }
        }

        // d TCKD/du: p_y - b_t,y at the target; p_j b_t,y - b_t,rest p_y q_j elsewhere.
        // d NCKD/du: q_s,j - q_t,j off the target, 0 at it.
        gradient[y] = a * (targetS - targetT)
        for j in 0..<k where j != y {
            let qs = exp(logQs[j])
            gradient[j] = a * (exp(logPs[j]) * targetT - restT * targetS * qs) + b * (qs - exp(logQt[j]))
        }
        return a * tckd + b * nckd
    }
}
