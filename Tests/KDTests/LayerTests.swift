import KDTestSupport
import XCTest
import Engine
import Pipeline

/// oneDNN layers against the reference kernels: forward, input gradient, parameter gradients.
final class LayerTests: XCTestCase {
    /// On every layout a model feeds it (6 channels pad the blocks), in the engine's own passes
    /// on nChw8c, else in oneDNN's.
    func testBatchNorm2dTrainingAndRunningStatistics() {
        for shape in [[4, 16, 5, 5], [3, 6, 4, 4], [8, 10]] {
          for (name, layout) in LayerCheck.layouts(shape) { for handsOver in [false, true] {
            let b = ModelBuilder(seed: 1)
            let bn = BatchNorm(b, "bn", shape[1])
            b.store.finalize()
            let c = shape[1]
            let gamma = LayerCheck.random(c, seed: 5).map { 1 + 0.2 * $0 }, beta = LayerCheck.random(c, seed: 6)
            try! b.store.set("bn.weight", gamma); try! b.store.set("bn.bias", beta)
            let x = LayerCheck.random(shape.reduce(1, *), seed: 7, scale: 3).map { $0 + 2 }
            var dy: [Float] = []
            let r = LayerCheck.run(bn, store: b.store, x: x, shape: shape, dy: { dy = LayerCheck.random($0.reduce(1, *), seed: 8); return dy },
                                   layout: layout, handsOverInput: handsOver)
            XCTAssertEqual(bn.trainedNatively, BatchNorm.trainsNatively && name == "nChw8c", "\(shape) \(name)")
            // The engine's passes write dx over an input that nothing else holds.
            XCTAssertEqual(r.reusedInput, handsOver && bn.trainedNatively, "input storage reused, \(shape) \(name)")
            let ref = Reference.batchNormForward(x, shape, gamma: gamma, beta: beta, epsilon: 1e-5)
            LayerCheck.assertClose(r.y, ref.y, "forward \(shape) \(name)")
            let g = Reference.batchNormBackward(x, shape, gamma: gamma, dy, epsilon: 1e-5)
            LayerCheck.assertClose(r.dx, g.dx, tolerance: 2e-4, "dx \(shape) \(name) handed over \(handsOver)")
            LayerCheck.assertClose(b.store.gradArray("bn.weight")!, g.dgamma, "dgamma \(shape) \(name)")
            LayerCheck.assertClose(b.store.gradArray("bn.bias")!, g.dbeta, "dbeta \(shape) \(name)")
            // Running statistics: momentum 0.1 from (0, 1), unbiased variance.
            let m = Float(x.count / c)
            LayerCheck.assertClose(b.store.array("bn.running_mean")!, ref.mean.map { 0.1 * $0 }, "running_mean")
            LayerCheck.assertClose(b.store.array("bn.running_var")!, ref.variance.map { 0.9 + 0.1 * $0 * m / (m - 1) }, "running_var")
            XCTAssertEqual(b.store.array("bn.num_batches_tracked"), [1])
            // Evaluation uses the running statistics.
            let input = Tensor(layout); input.load(x)
            let eval = bn.forward(input, mode: .eval).toArray()
            let refEval = Reference.batchNormInference(x, shape, gamma: gamma, beta: beta, mean: b.store.array("bn.running_mean")!,
                                                       variance: b.store.array("bn.running_var")!, epsilon: 1e-5)
            LayerCheck.assertClose(eval, refEval, "eval \(shape) \(name)")
          } }
        }
    }

    /// relu(batchnorm(x)) in one pass (the engine's or oneDNN's), against the reference composition.
    func testBatchNormWithFusedReLU() {
        let shape = [4, 16, 5, 5]
        for (name, layout) in LayerCheck.layouts(shape) {
        let b = ModelBuilder(seed: 1)
        let bn = BatchNorm(b, "bn", 16, fusedReLU: true)
        b.store.finalize()
        let gamma = LayerCheck.random(16, seed: 5).map { 1 + 0.2 * $0 }, beta = LayerCheck.random(16, seed: 6)
        try! b.store.set("bn.weight", gamma); try! b.store.set("bn.bias", beta)
        let x = LayerCheck.random(shape.reduce(1, *), seed: 7)
        var dy: [Float] = []
        let r = LayerCheck.run(bn, store: b.store, x: x, shape: shape, dy: { dy = LayerCheck.random($0.reduce(1, *), seed: 8); return dy },
                               layout: layout)
        XCTAssertEqual(bn.trainedNatively, BatchNorm.trainsNatively && name == "nChw8c", name)
        let plain = Reference.batchNormForward(x, shape, gamma: gamma, beta: beta, epsilon: 1e-5).y
        XCTAssert(plain.contains { $0 < 0 }, "the test needs negative pre-activations")
        LayerCheck.assertClose(r.y, Reference.reluForward(plain), "forward \(name)")
        let masked = Reference.reluBackward(plain, dy)
        let g = Reference.batchNormBackward(x, shape, gamma: gamma, masked, epsilon: 1e-5)
        LayerCheck.assertClose(r.dx, g.dx, tolerance: 2e-4, "dx \(name)")
        LayerCheck.assertClose(b.store.gradArray("bn.weight")!, g.dgamma, "dgamma \(name)")
        LayerCheck.assertClose(b.store.gradArray("bn.bias")!, g.dbeta, "dbeta \(name)")
        }
    }

    /// Evaluation folds the norm into the convolution; it must equal running the two layers,
    /// and follow parameter changes (the folded weights are cached by store version).
    /// The second shape runs the engine's own AVX2 kernel on machines that have it.
    func testConvBNFoldedEvaluationEqualsConvThenNorm() {
        // 28x28 stride 1: the engine's own kernels on AVX2, with an nChw8c input and a plain grey one.
        for (relu, stride, size, channels) in [(false, 2, 9, 8), (true, 2, 9, 8), (false, 1, 28, 8), (true, 1, 28, 8), (true, 1, 28, 1)] {
            let b = ModelBuilder(seed: 9)
            let conv = Conv2d(b, "c", channels, 16, kernel: 3, stride: stride, padding: 1)
            let norm = BatchNorm(b, "n", 16, fusedReLU: relu)
            let block = ConvBN(conv, norm)
            b.store.finalize()
            let shape = [4, channels, size, size]
            let x = Tensor(shape: shape, values: LayerCheck.random(shape.reduce(1, *), seed: 1, scale: 2))
            for _ in 0..<3 { _ = block.forward(x, mode: .train) }  // move the running statistics
            try! b.store.set("n.weight", LayerCheck.random(16, seed: 2).map { 1 + 0.3 * $0 })
            let separate = norm.forward(conv.forward(x, mode: .eval), mode: .eval).toArray()
            let folded = block.forward(x, mode: .eval).toArray()
            LayerCheck.assertClose(folded, separate, "relu \(relu)")
            XCTAssertEqual(relu, folded.allSatisfy { $0 >= 0 })
            // A parameter update must reach the next evaluation.
            try! b.store.set("c.bias", [Float](repeating: 1, count: 16))
            let again = block.forward(x, mode: .eval).toArray()
            LayerCheck.assertClose(again, norm.forward(conv.forward(x, mode: .eval), mode: .eval).toArray(), "after update, relu \(relu)")
            XCTAssertNotEqual(again, folded)
        }
    }

    /// Option A: every second pixel, channels zero-padded on both sides.
    func testZeroPadShortcut() {
        let shape = [2, 4, 5, 5]
        let x = LayerCheck.random(shape.reduce(1, *), seed: 1)
        var dy: [Float] = []
        let r = LayerCheck.run(ZeroPadShortcut(inChannels: 4, outChannels: 8), store: ParameterStore(), x: x, shape: shape) {
            dy = LayerCheck.random($0.reduce(1, *), seed: 2); return dy
        }
        XCTAssertEqual(r.yShape, [2, 8, 3, 3])
        var expected = [Float](repeating: 0, count: 2 * 8 * 9), expectedDx = [Float](repeating: 0, count: x.count)
        for n in 0..<2 { for c in 0..<4 { for i in 0..<3 { for j in 0..<3 {
            let o = ((n * 8 + c + 2) * 3 + i) * 3 + j, s = ((n * 4 + c) * 5 + 2 * i) * 5 + 2 * j
            expected[o] = x[s]; expectedDx[s] = dy[o]
        } } } }
        XCTAssertEqual(r.y, expected)
        XCTAssertEqual(r.dx, expectedDx)
    }

    func testReLU() {
        let shape = [2, 3, 4, 4]
        let x = LayerCheck.random(96, seed: 1)
        for (name, layout) in LayerCheck.layouts(shape) {
            var dy: [Float] = []
            let r = LayerCheck.run(ReLU(), store: ParameterStore(), x: x, shape: shape, dy: { dy = LayerCheck.random($0.reduce(1, *), seed: 2); return dy },
                                   layout: layout)
            XCTAssertEqual(r.y, Reference.reluForward(x), name)
            XCTAssertEqual(r.dx, Reference.reluBackward(x, dy), name)
        }
    }

    /// ReLU6 and LeakyReLU in every layout, against the reference; inputs reach past 6.
    func testActivations() {
        let shape = [2, 3, 4, 4]
        let x = LayerCheck.random(96, seed: 3, scale: 8)
        let kinds: [(Activation.Kind, ([Float]) -> [Float], ([Float], [Float]) -> [Float])] = [
            (.relu6, { Reference.relu6Forward($0) }, { Reference.relu6Backward($0, $1) }),
            (.leakyReLU(slope: 0.2), { Reference.leakyReLUForward($0, slope: 0.2) }, { Reference.leakyReLUBackward($0, $1, slope: 0.2) }),
        ]
        for (kind, forward, backward) in kinds {
            for (name, layout) in LayerCheck.layouts(shape) {
                var dy: [Float] = []
                let r = LayerCheck.run(Activation(kind), store: ParameterStore(), x: x, shape: shape,
                                       dy: { dy = LayerCheck.random($0.reduce(1, *), seed: 4); return dy }, layout: layout)
                XCTAssertEqual(r.y, forward(x), "\(kind) \(name)")
                LayerCheck.assertClose(r.dx, backward(x, dy), tolerance: 1e-6, "\(kind) \(name) backward")
            }
        }
        XCTAssert(x.contains { $0 > 6 } && x.contains { $0 < 0 })
    }

    func testPooling() {
        let cases: [(Pool2d.Kind, Int, Int, Int, [Int])] = [
            (.max, 2, 2, 0, [2, 16, 8, 8]), (.max, 2, 2, 0, [2, 8, 7, 7]),  // floor: 7 -> 3
            (.max, 3, 2, 1, [2, 8, 9, 9]), (.average, 2, 2, 0, [2, 16, 6, 6]), (.average, 3, 1, 1, [1, 3, 5, 5]),
        ]
        // Plain, blocked (nChw8c and nChw16c, what the models feed on AVX2 and AVX-512) and nhwc
        // inputs: 2x2 max pooling on the last three runs the project's kernel, the rest oneDNN.
        // 12 channels pad the last block. Ties (many zeros, as after a ReLU) send the gradient
        // to the first maximum, as the reference does.
        let blockedCases = cases + [(.max, 2, 2, 0, [2, 12, 7, 9]), (.max, 2, 2, 0, [3, 24, 5, 4])]
        for (kind, k, s, p, shape) in blockedCases {
          for (name, layout) in LayerCheck.layouts(shape) {
            let store = ParameterStore(); store.finalize()
            let x = LayerCheck.random(shape.reduce(1, *), seed: 3).map { $0 < -0.3 ? 0 : $0 }
            var dy: [Float] = []
            let layer = Pool2d(kind, kernel: k, stride: s, padding: p)
            let r = LayerCheck.run(layer, store: store, x: x, shape: shape, dy: { dy = LayerCheck.random($0.reduce(1, *), seed: 4); return dy },
                                   layout: layout)
            let win = Reference.Window(kernel: k, stride: s, padding: p)
            XCTAssertEqual(r.yShape, [shape[0], shape[1], win.outputSize(shape[2]), win.outputSize(shape[3])])
            let input = Tensor(layout); input.load(x)
            let eval = layer.forward(input, mode: .eval).toArray()
            LayerCheck.assertClose(eval, r.y, "evaluation forward \(shape) \(name)")
            if kind == .max {
                LayerCheck.assertClose(r.y, Reference.maxPoolForward(x, shape, win).y, "max forward \(shape) \(name)")
                LayerCheck.assertClose(r.dx, Reference.maxPoolBackward(x, shape, win, dy), "max dx \(shape) \(name)")
            } else {
                LayerCheck.assertClose(r.y, Reference.avgPoolForward(x, shape, win), "avg forward \(shape) \(name)")
                LayerCheck.assertClose(r.dx, Reference.avgPoolBackward(shape, win, dy), "avg dx \(shape) \(name)")
            }
          }
        }
    }

    func testMaxPoolingPropagatesNaN() {
        // PyTorch's max pooling lets a NaN win its window, so a diverging run shows as NaN.
        let shape = [1, 8, 2, 4]
        var x = [Float](repeating: 1, count: 64)
        x[1] = .nan  // channel 0, row 0, column 1: the first window of channel 0
        let input = Tensor(.blocked8(shape)); input.load(x)
        let y = Pool2d(.max, kernel: 2).forward(input, mode: .train).toArray()
        XCTAssertTrue(y[0].isNaN, "window with a NaN: \(y[0])")
        XCTAssertEqual(Array(y[1...]), [Float](repeating: 1, count: 15))
    }

    func testGlobalAveragePooling() {
        let shape = [3, 8, 7, 7]
        let x = LayerCheck.random(shape.reduce(1, *), seed: 3)
        var dy: [Float] = []
        let store = ParameterStore(); store.finalize()
        let r = LayerCheck.run(GlobalAvgPool(), store: store, x: x, shape: shape) { dy = LayerCheck.random($0.reduce(1, *), seed: 4); return dy }
        XCTAssertEqual(r.yShape, [3, 8, 1, 1])
        let win = Reference.Window(kernel: 7)
        LayerCheck.assertClose(r.y, Reference.avgPoolForward(x, shape, win), "forward")
        LayerCheck.assertClose(r.dx, Reference.avgPoolBackward(shape, win, dy), "dx")
    }

    func testLinear() {
        let b = ModelBuilder(seed: 2)
        let fc = Linear(b, "fc", 20, 7)
        b.store.finalize()
        let x = LayerCheck.random(5 * 20, seed: 1)
        var dy: [Float] = []
        let r = LayerCheck.run(fc, store: b.store, x: x, shape: [5, 20]) { dy = LayerCheck.random($0.reduce(1, *), seed: 2); return dy }
        let w = b.store.array("fc.weight")!, bias = b.store.array("fc.bias")!
        LayerCheck.assertClose(r.y, Reference.linearForward(x, batch: 5, w, out: 7, bias: bias), "forward")
        let g = Reference.linearBackward(x, batch: 5, w, out: 7, dy)
        LayerCheck.assertClose(r.dx, g.dx, "dx")
        LayerCheck.assertClose(b.store.gradArray("fc.weight")!, g.dw, "dw")
        LayerCheck.assertClose(b.store.gradArray("fc.bias")!, g.db, "db")
    }

    /// Flatten after a blocked-layout conv gives PyTorch's element order, and its gradient
    /// comes back in the conv's layout.
    func testFlattenKeepsRowMajorOrderAcrossLayouts() {
        let b = ModelBuilder(seed: 3)
        let conv = Conv2d(b, "c", 3, 16, kernel: 3, padding: 1)
        b.store.finalize()
        let flatten = Flatten()
        let x = Tensor(shape: [2, 3, 5, 5], values: LayerCheck.random(150, seed: 1))
        let y = conv.forward(x, mode: .train)
        let flat = flatten.forward(y, mode: .train)
        XCTAssertEqual(flat.shape, [2, 400])
        XCTAssertEqual(flat.toArray(), y.toArray())
        let g = Tensor(shape: [2, 400], values: LayerCheck.random(800, seed: 2))
        let back = flatten.backward(g)
        XCTAssertEqual(back.desc, y.desc)
        XCTAssertEqual(back.toArray(), g.toArray())
    }

    func testDropoutScalesSurvivorsAndIsSeeded() {
        let b = ModelBuilder(seed: 4)
        let d = Dropout(b, probability: 0.3)
        let x = [Float](repeating: 1, count: 10000)
        let r = LayerCheck.run(d, store: ParameterStore(), x: x, shape: [100, 100]) { _ in [Float](repeating: 2, count: 10000) }
        let zeros = r.y.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / 10000, 0.3, accuracy: 0.02)
        XCTAssert(r.y.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 })
        XCTAssertEqual(zip(r.y, r.dx).filter { ($0 == 0) != ($1 == 0) }.count, 0, "gradient uses the same mask")
        XCTAssertEqual(d.forward(Tensor(shape: [100, 100], values: x), mode: .eval).toArray(), x)
        let b2 = ModelBuilder(seed: 4)
        let d2 = Dropout(b2, probability: 0.3)
        XCTAssertEqual(d2.forward(Tensor(shape: [100, 100], values: x), mode: .train).toArray(), r.y)
    }

    /// A residual block with a 1x1-conv shortcut against the same computation done by hand.
    func testResidualAddsBothBranchesAndSplitsTheGradient() {
        let b = ModelBuilder(seed: 5)
        let main = Conv2d(b, "main", 8, 16, kernel: 3, stride: 2, padding: 1, bias: false)
        let short = Conv2d(b, "short", 8, 16, kernel: 1, stride: 2, bias: false)
        let block = Residual(main, shortcut: short)
        b.store.finalize()
        let shape = [2, 8, 6, 6]
        let x = LayerCheck.random(shape.reduce(1, *), seed: 1)
        var dy: [Float] = []
        let r = LayerCheck.run(block, store: b.store, x: x, shape: shape) { dy = LayerCheck.random($0.reduce(1, *), seed: 2); return dy }
        let wm = b.store.array("main.weight")!, ws = b.store.array("short.weight")!
        let winM = Reference.Window(kernel: 3, stride: 2, padding: 1), winS = Reference.Window(kernel: 1, stride: 2)
        let ym = Reference.conv2dForward(x, shape, wm, outChannels: 16, bias: [], winM)
        let ys = Reference.conv2dForward(x, shape, ws, outChannels: 16, bias: [], winS)
        LayerCheck.assertClose(r.y, zip(ym, ys).map(+), "forward")
        let gm = Reference.conv2dBackward(x, shape, wm, outChannels: 16, dy, winM)
        let gs = Reference.conv2dBackward(x, shape, ws, outChannels: 16, dy, winS)
        LayerCheck.assertClose(r.dx, zip(gm.dx, gs.dx).map(+), "dx")
        LayerCheck.assertClose(b.store.gradArray("short.weight")!, gs.dw, "shortcut dw")
        // Identity shortcut: the gradient passes through unchanged plus the main branch's.
        let b2 = ModelBuilder(seed: 6)
        let conv = Conv2d(b2, "c", 8, 8, kernel: 3, padding: 1, bias: false)
        let identity = Residual(conv, reluAfter: true)
        b2.store.finalize()
        var dy2: [Float] = []
        let r2 = LayerCheck.run(identity, store: b2.store, x: x, shape: shape) { dy2 = LayerCheck.random($0.reduce(1, *), seed: 3); return dy2 }
        let w = b2.store.array("c.weight")!
        let win = Reference.Window(kernel: 3, padding: 1)
        // With the block's ReLU fused in: y = relu(conv(x) + x).
        let sum = zip(Reference.conv2dForward(x, shape, w, outChannels: 8, bias: [], win), x).map(+)
        LayerCheck.assertClose(r2.y, Reference.reluForward(sum), "identity forward")
        let g2 = Reference.reluBackward(sum, dy2)
        LayerCheck.assertClose(r2.dx, zip(Reference.conv2dBackward(x, shape, w, outChannels: 8, g2, win).dx, g2).map(+), "identity dx")
    }
}
