/// Relational knowledge distillation (Park et al., "Relational Knowledge Distillation", CVPR
/// 2019), as RepDistiller's `distiller_zoo/RKD.py`, on the embeddings of a batch: the student
/// matches the teacher's pairwise distances (each divided by the batch's mean nonzero distance)
/// and the angles that every triple forms, both with smooth-L1 (beta 1, averaged over all
/// N^2 and N^3 entries):
///
///     distanceWeight * smoothL1(d_s / mean d_s, d_t / mean d_t)
///       + angleWeight * smoothL1(<e_ab, e_ac>_s, <e_ab, e_ac>_t),  e_ab = normalize(x_b - x_a)
///
/// Only relations between rows are compared, so the embeddings may differ in size. The angle
/// term is N^3 * D work; it runs as N matrix products on oneDNN's GEMM.
public enum RelationalKD {
    public struct Value: Sendable {
        /// distanceWeight * distance term + angleWeight * angle term.
        public var loss: Double
        public var distance: Double
        public var angle: Double
    }

    /// RKD over `n` rows; adds dL/d(student) into `gradient` ([n, studentSize], row-major).
    public static func compute(student: [Float], studentSize ds: Int, teacher: [Float], teacherSize dt: Int, rows n: Int,
                               distanceWeight: Float = 25, angleWeight: Float = 50, gradient: inout [Float]) -> Value {
        precondition(student.count == n * ds && teacher.count == n * dt && gradient.count == student.count, "RKD: sizes do not match")
        var distance = 0.0, angle = 0.0
        if distanceWeight != 0 {
            distance = distanceTerm(student, ds, teacher, dt, n, weight: Double(distanceWeight), gradient: &gradient)
        }
        if angleWeight != 0 {
            angle = angleTerm(student, ds, teacher, dt, n, weight: Double(angleWeight), gradient: &gradient)
        }
        return Value(loss: Double(distanceWeight) * distance + Double(angleWeight) * angle, distance: distance, angle: angle)
    }

    /// smooth-L1 with beta 1 and its derivative.
    @inline(__always)
    private static func smoothL1(_ x: Double) -> (value: Double, slope: Double) {
        abs(x) < 1 ? (0.5 * x * x, x) : (abs(x) - 0.5, x > 0 ? 1 : -1)
    }

    /// Pairwise Euclidean distances as RepDistiller computes them (Gram form, clamped at 1e-12
    /// before the square root, diagonal 0), divided by their mean over nonzero entries.
    private static func normalizedDistances(_ x: [Float], _ d: Int, _ n: Int) -> (values: [Double], raw: [Double], mean: Double, positives: Int) {
        var gram = [Float](repeating: 0, count: n * n)
        x.withUnsafeBufferPointer { p in
            gram.withUnsafeMutableBufferPointer { g in
                Gemm.run(transposeB: true, m: n, n: n, k: d, a: p.baseAddress!, lda: d, b: p.baseAddress!, ldb: d, c: g.baseAddress!, ldc: n)
            }
        }
        var raw = [Double](repeating: 0, count: n * n)
        var sum = 0.0, positives = 0
        for i in 0..<n {
            for j in 0..<n where i != j {
                let r = max(Double(gram[i * n + i]) + Double(gram[j * n + j]) - 2 * Double(gram[i * n + j]), 1e-12)
                raw[i * n + j] = r.squareRoot()
                if raw[i * n + j] > 0 { sum += raw[i * n + j]; positives += 1 }
            }
        }
        let mean = positives > 0 ? sum / Double(positives) : 1
        return (raw.map { $0 / mean }, raw, mean, positives)
    }

    private static func distanceTerm(_ s: [Float], _ ds: Int, _ t: [Float], _ dt: Int, _ n: Int, weight: Double,
                                     gradient: inout [Float]) -> Double {
        let st = normalizedDistances(s, ds, n), tt = normalizedDistances(t, dt, n)
        var loss = 0.0
        var g = [Double](repeating: 0, count: n * n)  // dL/d(normalised distance)
        for e in 0..<(n * n) {
            let (v, slope) = smoothL1(st.values[e] - tt.values[e])
            loss += v
            g[e] = slope / Double(n * n)
        }
        // Through the division by the mean: dL/dd_ij = g_ij / m - (sum g d) / (m^2 P).
        var gd = 0.0
        for e in 0..<(n * n) { gd += g[e] * st.raw[e] }
        let m = st.mean, shift = gd / (m * m * Double(max(st.positives, 1)))
        // Through d_ij = |x_i - x_j|: dx_i += sum_j w_ij (x_i - x_j), w_ij = (D_ij + D_ji) / d_ij.
        for i in 0..<n {
            for j in 0..<n where i != j && st.raw[i * n + j] > 1e-6 {
                let dij = g[i * n + j] / m - shift, dji = g[j * n + i] / m - shift
                let w = weight * (dij + dji) / st.raw[i * n + j]
                for c in 0..<ds { gradient[i * ds + c] += Float(w * (Double(s[i * ds + c]) - Double(s[j * ds + c]))) }
            }
        }
        return loss / Double(n * n)
    }

    /// Rows e_ab = normalize(x_b - x_a) for one anchor a, into `e` ([n, d]); their norms into `norms`.
    private static func directions(_ x: [Float], _ d: Int, _ n: Int, anchor a: Int, into e: inout [Float], norms: inout [Double]) {
        for b in 0..<n {
            var sq = 0.0
            for c in 0..<d { let v = Double(x[b * d + c]) - Double(x[a * d + c]); sq += v * v }
            let norm = sq.squareRoot()
            norms[b] = norm
            let divisor = max(norm, 1e-12)
            for c in 0..<d { e[b * d + c] = Float((Double(x[b * d + c]) - Double(x[a * d + c])) / divisor) }
        }
    }

    private static func angleTerm(_ s: [Float], _ ds: Int, _ t: [Float], _ dt: Int, _ n: Int, weight: Double,
                                  gradient: inout [Float]) -> Double {
        var es = [Float](repeating: 0, count: n * ds), et = [Float](repeating: 0, count: n * dt)
        var ns = [Double](repeating: 0, count: n), nt = [Double](repeating: 0, count: n)
        var angleS = [Float](repeating: 0, count: n * n), angleT = [Float](repeating: 0, count: n * n)
        var g = [Float](repeating: 0, count: n * n), de = [Float](repeating: 0, count: n * ds)
        let scale = 1 / Double(n * n * n)
        var loss = 0.0
        for a in 0..<n {
            directions(s, ds, n, anchor: a, into: &es, norms: &ns)
            directions(t, dt, n, anchor: a, into: &et, norms: &nt)
            gram(es, ds, n, into: &angleS)
            gram(et, dt, n, into: &angleT)
            for e in 0..<(n * n) {
                let (v, slope) = smoothL1(Double(angleS[e]) - Double(angleT[e]))
                loss += v
                g[e] = Float(slope * scale * weight)
            }
            // dE = (G + G^T) E = 2 G E (G is symmetric, as both angle matrices are).
            es.withUnsafeBufferPointer { ep in
                g.withUnsafeBufferPointer { gp in
                    de.withUnsafeMutableBufferPointer { dp in
                        Gemm.run(m: n, n: ds, k: n, alpha: 2, a: gp.baseAddress!, lda: n, b: ep.baseAddress!, ldb: ds, c: dp.baseAddress!, ldc: ds)
                    }
                }
            }
            // Through e = v / |v| and v = x_b - x_a (v = 0 at b = a, where dE is 0 too).
            for b in 0..<n where b != a && ns[b] > 1e-12 {
                var dot = 0.0
                for c in 0..<ds { dot += Double(de[b * ds + c]) * Double(es[b * ds + c]) }
                for c in 0..<ds {
                    let dv = Float((Double(de[b * ds + c]) - Double(es[b * ds + c]) * dot) / ns[b])
                    gradient[b * ds + c] += dv
                    gradient[a * ds + c] -= dv
                }
            }
        }
        return loss * scale
    }

    /// x x^T of an [n, d] row-major matrix.
    private static func gram(_ x: [Float], _ d: Int, _ n: Int, into out: inout [Float]) {
        x.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                Gemm.run(transposeB: true, m: n, n: n, k: d, a: p.baseAddress!, lda: d, b: p.baseAddress!, ldb: d, c: o.baseAddress!, ldc: n)
            }
        }
    }
}
