import XCTest
import Engine
import Pipeline
import KDTestSupport

/// The reference kernels' backward passes against central finite differences, in Double.
/// L(x) = sum(forward(x) * dy), so dL/dx must equal backward's dx (and likewise for parameters).
final class GradientCheckTests: XCTestCase {
    private func randoms(_ n: Int, _ seed: UInt64) -> [Double] {
        var rng = SeededRNG(seed: seed)
        return (0..<n).map { _ in rng.normal() }
    }

    /// Checks `analytic` against finite differences of `loss` at up to 40 coordinates of `x`.
    private func check(_ what: String, _ x: [Double], analytic: [Double], loss: ([Double]) -> Double,
                       file: StaticString = #filePath, line: UInt = #line) {
        let h = 1e-6
        var rng = SeededRNG(seed: 9)
        let coordinates = x.count <= 40 ? Array(x.indices) : (0..<40).map { _ in rng.below(x.count) }
        var worst = 0.0
        for i in coordinates {
            var plus = x, minus = x
            plus[i] += h; minus[i] -= h
            let numeric = (loss(plus) - loss(minus)) / (2 * h)
            worst = max(worst, abs(numeric - analytic[i]) / max(1, abs(numeric)))
        }
        XCTAssertLessThan(worst, 1e-6, "\(what): worst relative error \(worst)", file: file, line: line)
    }

    private func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    func testConvolutionGradients() {
        for (c, o, k, s, p, g) in [(3, 4, 3, 1, 1, 1), (4, 6, 3, 2, 0, 2), (4, 4, 3, 2, 1, 4), (2, 3, 1, 1, 0, 1)] {
            let xs = [2, c, 5, 5]
            let x = randoms(xs.reduce(1, *), 1), w = randoms(o * (c / g) * k * k, 2), b = randoms(o, 3)
            let win = Reference.Window(kernel: k, stride: s, padding: p)
            let dy = randoms(2 * o * win.outputSize(5) * win.outputSize(5), 4)
            let grads = Reference.conv2dBackward(x, xs, w, outChannels: o, dy, win, groups: g)
            let tag = "conv c\(c) o\(o) k\(k) s\(s) p\(p) g\(g)"
            check(tag + " dx", x, analytic: grads.dx) { dot(Reference.conv2dForward($0, xs, w, outChannels: o, bias: b, win, groups: g), dy) }
            check(tag + " dw", w, analytic: grads.dw) { dot(Reference.conv2dForward(x, xs, $0, outChannels: o, bias: b, win, groups: g), dy) }
            check(tag + " db", b, analytic: grads.db) { dot(Reference.conv2dForward(x, xs, w, outChannels: o, bias: $0, win, groups: g), dy) }
        }
    }

    func testBatchNormGradients() {
        for shape in [[3, 4, 3, 3], [6, 5]] {
            let c = shape[1]
            let x = randoms(shape.reduce(1, *), 1), gamma = randoms(c, 2), beta = randoms(c, 3), dy = randoms(x.count, 4)
            let g = Reference.batchNormBackward(x, shape, gamma: gamma, dy, epsilon: 1e-5)
            func f(_ x: [Double], _ gm: [Double], _ bt: [Double]) -> Double {
                dot(Reference.batchNormForward(x, shape, gamma: gm, beta: bt, epsilon: 1e-5).y, dy)
            }
            check("bn \(shape) dx", x, analytic: g.dx) { f($0, gamma, beta) }
            check("bn \(shape) dgamma", gamma, analytic: g.dgamma) { f(x, $0, beta) }
            check("bn \(shape) dbeta", beta, analytic: g.dbeta) { f(x, gamma, $0) }
        }
    }

    func testPoolingLinearAndReLUGradients() {
        let shape = [2, 3, 6, 6]
        let x = randoms(shape.reduce(1, *), 5)
        for win in [Reference.Window(kernel: 2, stride: 2), Reference.Window(kernel: 3, stride: 2, padding: 1)] {
            let n = 2 * 3 * win.outputSize(6) * win.outputSize(6)
            let dy = randoms(n, 6)
            check("maxpool k\(win.kernel)", x, analytic: Reference.maxPoolBackward(x, shape, win, dy)) { dot(Reference.maxPoolForward($0, shape, win).y, dy) }
            check("avgpool k\(win.kernel)", x, analytic: Reference.avgPoolBackward(shape, win, dy)) { dot(Reference.avgPoolForward($0, shape, win), dy) }
        }
        let xl = randoms(4 * 7, 7), w = randoms(3 * 7, 8), b = randoms(3, 9), dy = randoms(12, 10)
        let g = Reference.linearBackward(xl, batch: 4, w, out: 3, dy)
        check("linear dx", xl, analytic: g.dx) { dot(Reference.linearForward($0, batch: 4, w, out: 3, bias: b), dy) }
        check("linear dw", w, analytic: g.dw) { dot(Reference.linearForward(xl, batch: 4, $0, out: 3, bias: b), dy) }
        check("linear db", b, analytic: g.db) { dot(Reference.linearForward(xl, batch: 4, w, out: 3, bias: $0), dy) }
        let dr = randoms(x.count, 11)
        check("relu", x, analytic: Reference.reluBackward(x, dr)) { dot(Reference.reluForward($0), dr) }
    }

    /// The distillation losses' gradients (Float code, Double accumulation) against finite
    /// differences of their own values: KD and DKD, raw and standardised logits, with the
    /// warm-up scale. The step is the float32 difference actually applied.
    func testDistillationLossGradient() {
        let n = 4, k = 5
        let s = randoms(n * k, 12).map { Float($0 * 3) }, t = randoms(n * k, 13).map { Float($0 * 3) }
        let labels: [Int32] = [0, 3, 4, 1]
        var configurations: [(DistillationLoss, Float)] = [(Float(0.9), Float(4)), (0.5, 1), (0, 2), (1, 20)].map {
            (DistillationLoss(alpha: $0.0, temperature: $0.1), 1)
        }
        for standardize in [false, true] {
            configurations.append((DistillationLoss(alpha: 0.8, temperature: 2, standardizeLogits: standardize), 1))
            for (temperature, scale) in [(Float(1), Float(1)), (4, 0.3)] {
                configurations.append((DistillationLoss(alpha: 0.6, temperature: temperature, method: .dkd, standardizeLogits: standardize,
                                                        dkdTargetWeight: 1.5, dkdNonTargetWeight: 4), scale))
            }
        }
        for (loss, scale) in configurations {
            var grad = [Float](repeating: 0, count: n * k)
            _ = loss.compute(student: s, teacher: t, labels: labels, classes: k, gradient: &grad, softScale: scale)
            var scratch = [Float](repeating: 0, count: n * k)
            for i in 0..<(n * k) {
                var plus = s, minus = s
                plus[i] += 1e-3; minus[i] -= 1e-3
                let lp = loss.compute(student: plus, teacher: t, labels: labels, classes: k, gradient: &scratch, softScale: scale).loss
                let lm = loss.compute(student: minus, teacher: t, labels: labels, classes: k, gradient: &scratch, softScale: scale).loss
                XCTAssertEqual(Double(grad[i]), (lp - lm) / Double(plus[i] - minus[i]), accuracy: 2e-5,
                               "\(loss.method) standardize \(loss.standardizeLogits) alpha \(loss.alpha) T \(loss.temperature) coordinate \(i)")
            }
        }
    }

    /// Attention transfer's gradient against central differences of its own value, for equal
    /// sizes, a larger student (pooled, with uneven windows) and a larger teacher.
    func testAttentionTransferGradient() {
        for (sh, th) in [(4, 4), (5, 3), (2, 5)] {
            let shape = [2, 3, sh, sh]
            let x = randoms(shape.reduce(1, *), 21).map { Float($0) }
            let t = randoms(2 * th * th, 22).map { Float($0 * $0) }
            var g = [Float](repeating: 0, count: x.count)
            _ = AttentionTransfer.compute(student: x, shape: shape, teacher: t, teacherHeight: th, teacherWidth: th, gradient: &g)
            // `scale` (the term's weight) scales the gradient only.
            var scaled = [Float](repeating: 0, count: x.count)
            _ = AttentionTransfer.compute(student: x, shape: shape, teacher: t, teacherHeight: th, teacherWidth: th, gradient: &scaled, scale: 3)
            LayerCheck.assertClose(scaled, g.map { 3 * $0 }, "scale 3, student \(sh), teacher \(th)")
            var scratch = g
            for i in stride(from: 0, to: x.count, by: 3) {
                var plus = x, minus = x
                plus[i] += 1e-3; minus[i] -= 1e-3
                let lp = AttentionTransfer.compute(student: plus, shape: shape, teacher: t, teacherHeight: th, teacherWidth: th, gradient: &scratch)
                let lm = AttentionTransfer.compute(student: minus, shape: shape, teacher: t, teacherHeight: th, teacherWidth: th, gradient: &scratch)
                XCTAssertEqual(Double(g[i]), (lp - lm) / Double(plus[i] - minus[i]), accuracy: 1e-5, "student \(sh), teacher \(th), element \(i)")
            }
        }
    }

    /// RKD's gradient against central differences of its own value, each term alone and both.
    func testRelationalKDGradient() {
        let n = 6, ds = 4, dt = 5
        let s = randoms(n * ds, 31).map { Float($0) }, t = randoms(n * dt, 32).map { Float($0 * 2) }
        for (wd, wa) in [(Float(25), Float(0)), (0, 50), (25, 50)] {
            var g = [Float](repeating: 0, count: s.count)
            _ = RelationalKD.compute(student: s, studentSize: ds, teacher: t, teacherSize: dt, rows: n, distanceWeight: wd, angleWeight: wa, gradient: &g)
            var scratch = g
            for i in s.indices {
                var plus = s, minus = s
                plus[i] += 1e-3; minus[i] -= 1e-3
                let lp = RelationalKD.compute(student: plus, studentSize: ds, teacher: t, teacherSize: dt, rows: n, distanceWeight: wd, angleWeight: wa, gradient: &scratch).loss
                let lm = RelationalKD.compute(student: minus, studentSize: ds, teacher: t, teacherSize: dt, rows: n, distanceWeight: wd, angleWeight: wa, gradient: &scratch).loss
                XCTAssertEqual(Double(g[i]), (lp - lm) / Double(plus[i] - minus[i]), accuracy: 1e-3 * max(1, abs(Double(g[i]))),
                               "distance \(wd), angle \(wa), element \(i)")
            }
        }
    }
}
