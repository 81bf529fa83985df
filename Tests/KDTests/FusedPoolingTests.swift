import KDTestSupport
import XCTest
import Engine
import Pipeline

/// A batch norm (with or without its ReLU) and the 2x2 max pooling after it, which training
/// runs as one (`BatchNorm+Pooling.swift`), against the reference composition: batch norm,
/// ReLU, max pooling, and their gradients in reverse.
final class FusedPoolingTests: XCTestCase {
    private func check(_ shape: [Int], relu: Bool, file: StaticString = #filePath, line: UInt = #line) {
        let c = shape[1]
        for (name, layout) in LayerCheck.layouts(shape) { for handsOver in [false, true] {
            let b = ModelBuilder(seed: 1)
            let bn = BatchNorm(b, "bn", c, fusedReLU: relu)
            let network = Sequential([bn, Pool2d(.max, kernel: 2)])
            b.store.finalize()
            let gamma = LayerCheck.random(c, seed: 5).map { 1 + 0.4 * $0 }, beta = LayerCheck.random(c, seed: 6)
            try! b.store.set("bn.weight", gamma); try! b.store.set("bn.bias", beta)
            // A mean far from zero against the spread: the statistics must not cancel.
            let x = LayerCheck.random(shape.reduce(1, *), seed: 7, scale: 3).map { $0 + 40 }
            var dy: [Float] = []
            let r = LayerCheck.run(network, store: b.store, x: x, shape: shape,
                                   dy: { dy = LayerCheck.random($0.reduce(1, *), seed: 8); return dy }, layout: layout,
                                   handsOverInput: handsOver)
            // Layouts the pooling kernel handles: blocked, and nhwc with whole 8-channel groups.
            let fusable = name == "nChw8c" || name == "nChw16c" || (name == "nhwc" && c % 8 == 0)
            XCTAssertEqual(network.fusedPoolings, BatchNorm.fusesMaxPooling && fusable ? 1 : 0, "fused \(shape) \(name)", file: file, line: line)
            // The fused passes write dx over an input that nothing else holds.
            XCTAssertEqual(r.reusedInput, handsOver && network.fusedPoolings == 1, "input storage reused, \(shape) \(name)",
                           file: file, line: line)

            let win = Reference.Window(kernel: 2, stride: 2, padding: 0)
            let norm = Reference.batchNormForward(x, shape, gamma: gamma, beta: beta, epsilon: 1e-5)
            let activation = relu ? Reference.reluForward(norm.y) : norm.y
            let what = "\(shape) \(name) relu \(relu) handed over \(handsOver)"
            LayerCheck.assertClose(r.y, Reference.maxPoolForward(activation, shape, win).y, "forward \(what)", file: file, line: line)
            let dActivation = Reference.maxPoolBackward(activation, shape, win, dy)
            let dNorm = relu ? Reference.reluBackward(norm.y, dActivation) : dActivation
            let g = Reference.batchNormBackward(x, shape, gamma: gamma, dNorm, epsilon: 1e-5)
            LayerCheck.assertClose(r.dx, g.dx, tolerance: 2e-4, "dx \(what)", file: file, line: line)
            LayerCheck.assertClose(b.store.gradArray("bn.weight")!, g.dgamma, "dgamma \(what)", file: file, line: line)
            LayerCheck.assertClose(b.store.gradArray("bn.bias")!, g.dbeta, "dbeta \(what)", file: file, line: line)
            let m = Float(x.count / c)
            LayerCheck.assertClose(b.store.array("bn.running_mean")!, norm.mean.map { 0.1 * $0 }, "running_mean \(what)", file: file, line: line)
            LayerCheck.assertClose(b.store.array("bn.running_var")!, norm.variance.map { 0.9 + 0.1 * $0 * m / (m - 1) },
                                   "running_var \(what)", file: file, line: line)
        } }
    }

    func testEvenPlanesWithReLU() { check([3, 16, 8, 6], relu: true) }
    func testEvenPlanesWithoutReLU() { check([3, 16, 8, 6], relu: false) }
    // 7 x 9: the last row and column lie outside every window (their gradient comes from the
    // statistics alone); 12 channels pad the last block.
    func testOddPlanesAndPaddedChannels() { check([2, 12, 7, 9], relu: true) }
    func testOddPlanesWithoutReLU() { check([4, 8, 5, 5], relu: false) }
}
