#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// DIST (Huang et al., "Knowledge Distillation from A Stronger Teacher", NeurIPS 2022): the
/// student matches the teacher's relations rather than its probabilities. With
/// y = softmax(z / T) for both, over a batch of N rows and K classes,
///
///     T^2 * (beta * (1 - mean over rows of pearson(ys[i, :], yt[i, :]))       inter-class
///          + gamma * (1 - mean over classes of pearson(ys[:, j], yt[:, j])))  intra-class
///
/// where pearson(a, b) is the cosine of the centred vectors with 1e-8 added to the product of
/// their norms, as the authors' `dist_kd.py`. The intra-class term couples the rows of a batch.
/// It reads logits only, so it works from a cached teacher. The authors add it to cross-entropy
/// with weight 1 (beta = gamma = 1, T = 1 on ImageNet; 2, 2, 4 on CIFAR-100).
public enum DIST {
    /// The loss over `rows` rows of `k` student and teacher logits; adds dL/d(student logits)
    /// into `gradient`. Computed in Double.
    public static func compute(student: UnsafePointer<Float>, teacher: UnsafePointer<Float>, rows n: Int, classes k: Int,
                               temperature t: Double, beta: Double, gamma: Double, gradient: UnsafeMutablePointer<Float>) -> Double {
        let ys = softmax(student, n, k, t), yt = softmax(teacher, n, k, t)
        var dy = [Double](repeating: 0, count: n * k)  // dL/d(ys)
        var inter = 0.0, intra = 0.0
        ys.withUnsafeBufferPointer { s in yt.withUnsafeBufferPointer { r in dy.withUnsafeMutableBufferPointer { d in
            let (s, r, d) = (s.baseAddress!, r.baseAddress!, d.baseAddress!)
            for i in 0..<n {
                inter += pearson(s + i * k, r + i * k, count: k, stride: 1, scale: -t * t * beta / Double(n), into: d + i * k)
            }
            for j in 0..<k {
                intra += pearson(s + j, r + j, count: n, stride: k, scale: -t * t * gamma / Double(k), into: d + j)
            }
        } } }
        // Through the softmax: dL/dz = (1 / T) * y * (dL/dy - <dL/dy, y>), row by row.
        for i in 0..<n {
            var dot = 0.0
            for j in 0..<k { dot += dy[i * k + j] * ys[i * k + j] }
            for j in 0..<k { gradient[i * k + j] += Float(ys[i * k + j] * (dy[i * k + j] - dot) / t) }
        }
        return t * t * (beta * (1 - inter / Double(n)) + gamma * (1 - intra / Double(k)))
    }

    /// softmax(z / T) of each of `n` rows of `k`, in Double.
    static func softmax(_ z: UnsafePointer<Float>, _ n: Int, _ k: Int, _ t: Double) -> [Double] {
        var y = [Double](repeating: 0, count: n * k)
        y.withUnsafeMutableBufferPointer { y in
            for i in 0..<n {
                Softmax.logSoftmax(z + i * k, k, temperature: t, into: y.baseAddress! + i * k)
                for j in 0..<k { y[i * k + j] = exp(y[i * k + j]) }
            }
        }
        return y
    }

    /// The authors' Pearson correlation of a and b (`count` values `stride` apart); adds
    /// scale * d(pearson)/da into `da` at the same positions.
    static func pearson(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count m: Int, stride: Int, scale: Double,
                        into da: UnsafeMutablePointer<Double>) -> Double {
        var meanA = 0.0, meanB = 0.0
        for l in 0..<m { meanA += a[l * stride]; meanB += b[l * stride] }
        meanA /= Double(m); meanB /= Double(m)
        var uu = 0.0, vv = 0.0, uv = 0.0
        for l in 0..<m {
            let u = a[l * stride] - meanA, v = b[l * stride] - meanB
            uu += u * u; vv += v * v; uv += u * v
        }
        let nu = uu.squareRoot(), nv = vv.squareRoot(), denominator = nu * nv + 1e-8
        // d/du of uv / (|u| |v| + eps) = v / D - uv |v| u / (|u| D^2); centring subtracts the mean.
        let cu = nu > 0 ? uv * nv / (nu * denominator * denominator) : 0
        var mean = 0.0
        for l in 0..<m { mean += (b[l * stride] - meanB) / denominator - cu * (a[l * stride] - meanA) }
        mean /= Double(m)
        for l in 0..<m {
            let g = (b[l * stride] - meanB) / denominator - cu * (a[l * stride] - meanA)
            da[l * stride] += scale * (g - mean)
        }
        return uv / denominator
    }
}
