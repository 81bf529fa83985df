/// Logit standardisation (Sun et al., "Logit Standardization in Knowledge Distillation",
/// CVPR 2024): each row of logits becomes its z-score, (z - mean) / (1e-7 + std), with the
/// unbiased standard deviation (torch.std's default), before the temperature softmax of a
/// distillation term. Teacher and student then match in shape, not in scale.
public enum LogitStandardization {
    /// The epsilon the reference implementation adds to the standard deviation.
    public static let epsilon = 1e-7

    /// Standardises one row of `k` logits into `out`; returns 1e-7 + std, which `backward` needs.
    @discardableResult
    public static func forward(_ z: UnsafePointer<Double>, _ k: Int, into out: UnsafeMutablePointer<Double>) -> Double {
        var mean = 0.0
        for j in 0..<k { mean += z[j] }
        mean /= Double(k)
        var squares = 0.0
        for j in 0..<k { squares += (z[j] - mean) * (z[j] - mean) }
        let scale = epsilon + (squares / Double(max(k - 1, 1))).squareRoot()
        for j in 0..<k { out[j] = (z[j] - mean) / scale }
        return scale
    }

    /// Turns dL/d(standardised row) in `gradient` into dL/d(row), in place, given the
    /// standardised row `y` and the `scale` (1e-7 + std) forward returned:
    ///
    ///     dz_j = (dy_j - mean(dy)) / scale - (sum_i dy_i y_i) * y_j / ((k - 1) std)
    ///
    /// A constant row (std 0) has y = 0 and only the first term.
    public static func backward(_ y: UnsafePointer<Double>, _ k: Int, scale: Double, gradient: UnsafeMutablePointer<Double>) {
        var meanGrad = 0.0, dot = 0.0
        for j in 0..<k { meanGrad += gradient[j]; dot += gradient[j] * y[j] }
        meanGrad /= Double(k)
        let std = scale - epsilon
        let spread = std > 0 ? dot / (Double(max(k - 1, 1)) * std) : 0
        for j in 0..<k { gradient[j] = (gradient[j] - meanGrad) / scale - spread * y[j] }
    }
}
