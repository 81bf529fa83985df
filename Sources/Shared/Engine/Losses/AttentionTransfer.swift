/// Attention transfer (Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017),
/// as RepDistiller's `distiller_zoo/AT.py` with p = 2, for one pair of stages:
///
///     mean over rows and positions of (at(student) - at(teacher))^2,
///     at(f) = normalize(mean_c f^2), each row divided by max(its L2 norm, 1e-12)
///
/// The teacher side is its exported attention map (mean_c f_t^2, `ModelFeatures`). Where the
/// student's stage output is larger, it is average-pooled to the teacher's size first, as
/// RepDistiller does (adaptive pooling). Where the teacher's is larger, its map is
/// average-pooled to the student's size: RepDistiller pools the teacher's features before
/// squaring, which the export does not keep, so that case is an approximation.
public enum AttentionTransfer {
    /// The loss of one stage pair; adds `scale` * dL/d(student stage output) into `gradient`
    /// (plain [N, C, H, W], like `student`).
    /// - Parameters:
    ///   - student: the student's stage output, row-major `shape` = [N, C, H, W].
    ///   - teacher: the teacher's attention maps of the same rows, row-major [N, th * tw].
    public static func compute(student: [Float], shape: [Int], teacher: [Float], teacherHeight th: Int, teacherWidth tw: Int,
                               gradient: inout [Float], scale: Float = 1) -> Double {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        precondition(student.count == n * c * h * w && gradient.count == student.count && teacher.count == n * th * tw,
                     "attention transfer: sizes do not match")
        if (h, w) == (th, tw) {
            return sameSize(student: student, shape: shape, teacher: teacher, gradient: &gradient, scale: scale)
        }
        return pooled(student: student, shape: shape, teacher: teacher, teacherHeight: th, teacherWidth: tw, gradient: &gradient, scale: scale)
    }

    /// Equal sizes (every pair of the stock models): no pooling, float arithmetic with double
    /// sums, samples split over oneDNN's OpenMP team.
    static func sameSize(student: [Float], shape: [Int], teacher: [Float], gradient: inout [Float], scale: Float) -> Double {
        let (n, c, p) = (shape[0], shape[1], shape[2] * shape[3])
        var losses = [Double](repeating: 0, count: n)
        student.withUnsafeBufferPointer { x in
            teacher.withUnsafeBufferPointer { t in
                gradient.withUnsafeMutableBufferPointer { dx in
                    losses.withUnsafeMutableBufferPointer { loss in
                        nonisolated(unsafe) let (x, t, dx, loss) = (x.baseAddress!, t.baseAddress!, dx.baseAddress!, loss.baseAddress!)
                        OpenMP.parallel { thread, threads in
                            var a = [Float](repeating: 0, count: p), du = [Float](repeating: 0, count: p)
                            for i in OpenMP.share(n, thread, threads) {
                                loss[i] = sameSizeRow(x + i * c * p, t + i * p, dx + i * c * p, channels: c, positions: p,
                                                      rows: n, scale: scale, a: &a, du: &du)
                            }
                        }
                    }
                }
            }
        }
        return losses.reduce(0, +) / Double(n * p)
    }

    /// One sample of `sameSize`: returns its sum of squared differences and adds its gradient.
    /// `a` and `du` are scratch of `positions` floats.
    private static func sameSizeRow(_ x: UnsafePointer<Float>, _ t: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                    channels c: Int, positions p: Int, rows n: Int, scale: Float,
                                    a: inout [Float], du: inout [Float]) -> Double {
        for q in 0..<p { a[q] = 0 }
        for ch in 0..<c {
            let plane = x + ch * p
            for q in 0..<p { a[q] += plane[q] * plane[q] }
        }
        var sa = 0.0, st = 0.0
        for q in 0..<p {
            a[q] /= Float(c)
            sa += Double(a[q]) * Double(a[q])
            st += Double(t[q]) * Double(t[q])
        }
        let (ns, nt) = (max(sa.squareRoot(), 1e-12), max(st.squareRoot(), 1e-12))
        let clamped = sa.squareRoot() < 1e-12
        var sum = 0.0, dot = 0.0
        for q in 0..<p {
            let us = Double(a[q]) / ns
            let d = us - Double(t[q]) / nt
            sum += d * d
            let g = 2 * d / Double(n * p)
            du[q] = Float(g)
            dot += g * us
        }
        // dL/da = (du - u_s (du . u_s)) / |a|, then dL/dx = dL/da * 2 x / c.
        let factor = 2 * scale / Float(c)
        for q in 0..<p {
            let da = clamped ? Float(Double(du[q]) / ns) : Float((Double(du[q]) - Double(a[q]) / ns * dot) / ns)
            du[q] = da * factor
        }
        for ch in 0..<c {
            let (plane, grad) = (x + ch * p, dx + ch * p)
            for q in 0..<p { grad[q] += du[q] * plane[q] }
        }
        return sum
    }

    /// Any sizes, through adaptive average pooling (double arithmetic, one thread).
    static func pooled(student: [Float], shape: [Int], teacher: [Float], teacherHeight th: Int, teacherWidth tw: Int,
                       gradient: inout [Float], scale: Float) -> Double {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        // The student's output at the compared size (pooled when larger than the teacher's).
        let (oh, ow) = (min(h, th), min(w, tw))
        let poolStudent = Pooling(from: (h, w), to: (oh, ow))
        let poolTeacher = Pooling(from: (th, tw), to: (oh, ow))
        let p = oh * ow
        var loss = 0.0
        var g = [Double](repeating: 0, count: c * p), a = [Double](repeating: 0, count: p), tmap = [Double](repeating: 0, count: p)
        var dg = [Double](repeating: 0, count: c * p)
        for i in 0..<n {
            for ch in 0..<c {
                poolStudent.forward(student, offset: (i * c + ch) * h * w, into: &g, at: ch * p)
            }
            for q in 0..<p {
                var s = 0.0
                for ch in 0..<c { s += g[ch * p + q] * g[ch * p + q] }
                a[q] = s / Double(c)
            }
            poolTeacher.forward(teacher, offset: i * th * tw, into: &tmap, at: 0)
            let us = normalized(a), ut = normalized(tmap)
            // d/du_s of sum (u_s - u_t)^2 / (n p), then through u = a / |a| and a = mean_c g^2.
            var du = [Double](repeating: 0, count: p)
            for q in 0..<p {
                let d = us.values[q] - ut.values[q]
                loss += d * d
                du[q] = 2 * d / Double(n * p)
            }
            var dot = 0.0
            for q in 0..<p { dot += du[q] * us.values[q] }
            for q in 0..<p {
                let da = us.norm > 0 ? (du[q] - (us.clamped ? 0 : us.values[q] * dot)) / us.norm : 0
                for ch in 0..<c { dg[ch * p + q] = Double(scale) * da * 2 * g[ch * p + q] / Double(c) }
            }
            for ch in 0..<c {
                poolStudent.backward(dg, at: ch * p, into: &gradient, offset: (i * c + ch) * h * w)
            }
        }
        return loss / Double(n * p)
    }

    /// x / max(|x|, 1e-12), as F.normalize; `clamped` when the floor applied.
    private static func normalized(_ x: [Double]) -> (values: [Double], norm: Double, clamped: Bool) {
        let norm = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let divisor = max(norm, 1e-12)
        return (x.map { $0 / divisor }, divisor, norm < 1e-12)
    }

    /// PyTorch's adaptive average pooling of one plane from `from` to `to` (the identity when
    /// equal): output cell (i, j) averages rows floor(i H / oh) ..< ceil((i + 1) H / oh), and
    /// likewise for columns.
    struct Pooling {
        let from: (Int, Int), to: (Int, Int)
        private func window(_ i: Int, _ size: Int, _ out: Int) -> Range<Int> { (i * size / out)..<(((i + 1) * size + out - 1) / out) }

        func forward(_ x: [Float], offset: Int, into y: inout [Double], at base: Int) {
            for i in 0..<to.0 {
                let rows = window(i, from.0, to.0)
                for j in 0..<to.1 {
                    let cols = window(j, from.1, to.1)
                    var s = 0.0
                    for r in rows { for q in cols { s += Double(x[offset + r * from.1 + q]) } }
                    y[base + i * to.1 + j] = s / Double(rows.count * cols.count)
                }
            }
        }

        func backward(_ dy: [Double], at base: Int, into dx: inout [Float], offset: Int) {
            for i in 0..<to.0 {
                let rows = window(i, from.0, to.0)
                for j in 0..<to.1 {
                    let cols = window(j, from.1, to.1)
                    let share = dy[base + i * to.1 + j] / Double(rows.count * cols.count)
                    for r in rows { for q in cols { dx[offset + r * from.1 + q] += Float(share) } }
                }
            }
        }
    }
}
