import XCTest
import Engine
import Pipeline

/// Compares a oneDNN layer with its reference kernel: forward output, input gradient and
/// parameter gradients, for a given input and output gradient. One call per layer test.
public enum LayerCheck {
    public static func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in Float(rng.normal()) * scale }
    }

    /// The layouts a layer meets for `shape`: row-major, and for [N, C, H, W] also the blocked
    /// nChw8c (AVX2) and nChw16c (AVX-512) that oneDNN's convolutions hand on, and nhwc.
    public static func layouts(_ shape: [Int]) -> [(name: String, desc: MemoryDesc)] {
        guard shape.count == 4 else { return [("plain", .plain(shape))] }
        return [("nchw", .plain(shape)), ("nChw8c", .blocked8(shape)), ("nChw16c", .blocked16(shape)), ("nhwc", .channelsLast(shape))]
    }

    /// max |a - b| / max(1, max |b|): relative to the reference's magnitude.
    public static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
        var maxDiff: Float = 0, maxRef: Float = 0
        for (x, y) in zip(a, b) { maxDiff = max(maxDiff, abs(x - y)); maxRef = max(maxRef, abs(y)) }
        return maxDiff / max(maxRef, 1e-6)
    }

    public static func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-4, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        guard a.count == b.count else { return }
        let e = relativeError(a, b)
        guard !(e < tolerance) else { return }
        XCTFail("\(what): relative error \(e) (tolerance \(tolerance)); \(mismatches(a, b, tolerance: tolerance))", file: file, line: line)
    }

    /// Where `a` (the kernel) and `b` (the reference) differ, for a failure message: how many
    /// elements, the first few and the worst, each as index: got vs expected.
    public static func mismatches(_ a: [Float], _ b: [Float], tolerance: Float, shown: Int = 4) -> String {
        let scale = max(b.map(abs).max() ?? 0, 1e-6)
        let difference = { (i: Int) -> Float in let d = abs(a[i] - b[i]); return d.isNaN ? .infinity : d }
        let bad = a.indices.filter { !(difference($0) / scale < tolerance) }
        guard let worst = bad.max(by: { difference($0) < difference($1) }) else { return "no element differs" }
        let show = { (i: Int) in "[\(i)]: \(a[i]) vs \(b[i])" }
        return "\(bad.count) of \(a.count) elements differ; first \(bad.prefix(shown).map(show).joined(separator: ", ")); worst \(show(worst))"
    }

    public static func assertClose(_ a: [Float], _ b: [Double], tolerance: Float = 1e-4, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        assertClose(a, b.map { Float($0) }, tolerance: tolerance, what, file: file, line: line)
    }

    /// Runs forward (train mode) and backward of `layer` on `x` with output gradient `dy`
    /// (both row-major), returning (y, dx) in row-major order. Parameter gradients start at
    /// zero. `layout` puts the input in another layout first (the models feed layers oneDNN's
    /// blocked nChw8c). With `handsOverInput` the input is pooled storage that the caller lets
    /// go of after forward, as a network hands a layer's output on: the layer may then write
    /// its input gradient there, and `reusedInput` says whether dx came back in that storage
    /// (telling for a layer that keeps its input until backward, as batch norm does; one that
    /// does not may get the freed buffer back from the pool).
    public static func run(_ layer: Layer, store: ParameterStore, x: [Float], shape: [Int], dy: (_ yShape: [Int]) -> [Float],
                           mode: Mode = .train, layout: MemoryDesc? = nil,
                           handsOverInput: Bool = false) -> (y: [Float], yShape: [Int], dx: [Float], reusedInput: Bool) {
        if !store.isFinal { store.finalize() }
        store.zeroGrads()
        let desc = layout ?? .plain(shape)
        var input: Tensor? = handsOverInput ? Tensor(pooled: desc) : Tensor(desc)
        input!.load(x)
        let inputStorage = input!.floats
        let y = layer.forward(input!, mode: mode)
        if handsOverInput { input = nil }
        let yValues = y.toArray(), yShape = y.shape
        let g = Tensor(y.desc)
        g.load(dy(yShape))
        let dx = layer.backward(g)
        return (yValues, yShape, dx.toArray(), dx.floats == inputStorage)
    }
}
