import KDTestSupport
import XCTest
import Engine
import Pipeline

final class Conv2dTests: XCTestCase {
    /// `native`: the passes that must run in the engine's own kernels on a machine that has them.
    private func check(n: Int = 2, c: Int, h: Int, o: Int, k: Int, stride: Int, padding: Int, groups: Int = 1,
                       bias: Bool, native: [String] = [], file: StaticString = #filePath, line: UInt = #line) {
        let b = ModelBuilder(seed: 1)
        let conv = Conv2d(b, "conv", c, o, kernel: k, stride: stride, padding: padding, groups: groups, bias: bias)
        b.store.finalize()
        let shape = [n, c, h, h]
        let x = LayerCheck.random(shape.reduce(1, *), seed: 2)
        var dyUsed: [Float] = []
        let r = LayerCheck.run(conv, store: b.store, x: x, shape: shape) { ys in
            dyUsed = LayerCheck.random(ys.reduce(1, *), seed: 3); return dyUsed
        }
        let w = b.store.array("conv.weight")!
        let biasValues = bias ? b.store.array("conv.bias")! : []
        let win = Reference.Window(kernel: k, stride: stride, padding: padding)
        let ref = Reference.conv2dForward(x, shape, w, outChannels: o, bias: biasValues, win, groups: groups)
        XCTAssertEqual(r.yShape, [n, o, win.outputSize(h), win.outputSize(h)], file: file, line: line)
        LayerCheck.assertClose(r.y, ref, "forward", file: file, line: line)
        let eval = conv.forward(Tensor(shape: shape, values: x), mode: .eval).toArray()
        LayerCheck.assertClose(eval, ref, "evaluation forward", file: file, line: line)
        let g = Reference.conv2dBackward(x, shape, w, outChannels: o, dyUsed, win, groups: groups)
        LayerCheck.assertClose(r.dx, g.dx, "dx", file: file, line: line)
        LayerCheck.assertClose(b.store.gradArray("conv.weight")!, g.dw, "dw", file: file, line: line)
        if bias { LayerCheck.assertClose(b.store.gradArray("conv.bias")!, g.db, "db", file: file, line: line) }
        // Again: buffers kept from the first step must not leak into the second's gradients.
        _ = LayerCheck.run(conv, store: b.store, x: x, shape: shape) { _ in dyUsed }
        LayerCheck.assertClose(b.store.gradArray("conv.weight")!, g.dw, "dw, second step", file: file, line: line)
        if bias { LayerCheck.assertClose(b.store.gradArray("conv.bias")!, g.db, "db, second step", file: file, line: line) }
        XCTAssertEqual(conv.nativePasses, Conv2d.nativeKernelsEnabled ? native : [], "passes in the engine's own kernels", file: file, line: line)
    }

    func testPlain3x3() { check(c: 16, h: 8, o: 32, k: 3, stride: 1, padding: 1, bias: true, native: ["backward-weights"]) }
    func testFirstLayerOneChannel() { check(c: 1, h: 9, o: 16, k: 3, stride: 1, padding: 1, bias: false, native: ["backward-weights"]) }
    func testStridedNoPadding() { check(c: 8, h: 9, o: 16, k: 3, stride: 2, padding: 0, bias: true) }
    func testPointwiseStride2() { check(c: 16, h: 8, o: 32, k: 1, stride: 2, padding: 0, bias: false) }
    func testOddChannelCounts() { check(c: 3, h: 7, o: 5, k: 3, stride: 1, padding: 1, bias: true) }
    func testDepthwise() { check(c: 16, h: 8, o: 16, k: 3, stride: 2, padding: 1, groups: 16, bias: false) }
    // The engine's own AVX2 kernels (3x3, stride 1): an odd batch splits unevenly over the
    // threads, 29 and 28 leave 5- and 4-wide tiles after the 6-wide ones, and 14 is below the
    // width where forward and backward-data run natively.
    func testNativeKernelsAllPasses() {
        check(n: 3, c: 16, h: 29, o: 16, k: 3, stride: 1, padding: 1, bias: true, native: ["forward", "backward-data", "backward-weights"])
    }
    func testNativeKernelsNoBias() {
        check(n: 2, c: 32, h: 28, o: 16, k: 3, stride: 1, padding: 1, bias: false, native: ["forward", "backward-data", "backward-weights"])
    }
    func testNativeKernelsWeightsOnlyOnNarrowPlanes() {
        check(n: 3, c: 8, h: 14, o: 32, k: 3, stride: 1, padding: 1, bias: true, native: ["backward-weights"])
    }
    func testNativeForwardWithoutBackwardData() {
        check(n: 2, c: 8, h: 28, o: 16, k: 3, stride: 1, padding: 1, bias: true, native: ["forward", "backward-weights"])
    }
    // A first layer's plain input (1 or 3 channels): forward on wide planes, and backward-
    // weights, in the `_plain` kernels; backward-data stays in oneDNN.
    func testNativeFirstLayerGrey() {
        check(n: 3, c: 1, h: 28, o: 32, k: 3, stride: 1, padding: 1, bias: true, native: ["forward", "backward-weights"])
    }
    func testNativeFirstLayerRGB() {
        check(n: 2, c: 3, h: 29, o: 16, k: 3, stride: 1, padding: 1, bias: false, native: ["forward", "backward-weights"])
    }
    func testGrouped() { check(c: 8, h: 6, o: 12, k: 3, stride: 1, padding: 1, groups: 4, bias: true) }
}
