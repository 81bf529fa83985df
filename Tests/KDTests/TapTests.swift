import XCTest
import Engine
import KDTestSupport
import Pipeline

/// The student's taps: a tapped forward is the plain forward, and a gradient injected at a
/// stage output or the embedding reaches the parameters as finite differences say.
final class TapTests: XCTestCase {
    private func model() throws -> Model {
        try ModelRegistry.make("resnet8", inputShape: [1, 12, 12], numClasses: 10, options: ModelOptions(dropoutRate: 0, seed: 3))
    }

    private func images(_ n: Int) -> Tensor {
        var rng = SeededRNG(seed: 5)
        return Tensor(shape: [n, 1, 12, 12], values: (0..<(n * 144)).map { _ in Float(rng.normal()) })
    }

    func testTappedForwardAndBackwardMatchThePlainOnes() throws {
        let m = try model(), x = images(4)
        let plain = m.forward(x, mode: .train).toArray()
        let (logits, features) = m.forwardTapped(x)
        XCTAssertEqual(logits.toArray(), plain)
        XCTAssertEqual(features.stages.map(\.shape), [[4, 16, 12, 12], [4, 32, 6, 6], [4, 64, 3, 3]])
        XCTAssertEqual(features.embeddingSize, 64)
        var rng = SeededRNG(seed: 6)
        let dy = Tensor(shape: [4, 10], values: (0..<40).map { _ in Float(rng.normal()) })
        m.store.zeroGrads()
        m.backward(dy, through: features, stageGradients: [nil, nil, nil], embeddingGradient: nil)
        let tapped = m.store.gradArray("conv1.weight")!
        m.store.zeroGrads()
        _ = m.forward(x, mode: .train)
        m.backward(dy)
        XCTAssertEqual(tapped, m.store.gradArray("conv1.weight")!)
    }

    /// L = sum(e * tap(theta)) for a fixed random e, at each stage and at the embedding:
    /// dL/d(conv1.weight) from the injected gradient against central differences.
    func testInjectedGradientsMatchFiniteDifferences() throws {
        let x = images(3)
        let probe = try model()
        let shapes = probe.forwardTapped(x).features
        var rng = SeededRNG(seed: 7)
        for target in 0...shapes.stages.count {  // the stages, then the embedding
            let count = target < shapes.stages.count ? shapes.stages[target].values.count : shapes.embedding.count
            let e = (0..<count).map { _ in Float(rng.normal()) }
            func loss(_ m: Model) -> Double {
                let f = m.forwardTapped(x).features
                let tap = target < f.stages.count ? f.stages[target].values : f.embedding
                return zip(tap, e).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            }
            let m = try model()
            let taps = m.forwardTapped(x).features
            m.store.zeroGrads()
            var stageGradients = [[Float]?](repeating: nil, count: shapes.stages.count)
            if target < shapes.stages.count { stageGradients[target] = e }
            m.backward(Tensor(shape: [3, 10], values: [Float](repeating: 0, count: 30)), through: taps, stageGradients: stageGradients,
                       embeddingGradient: target < shapes.stages.count ? nil : e)
            let analytic = m.store.gradArray("conv1.weight")!
            let weights = m.store.array("conv1.weight")!
            // ReLU kinks make the network piecewise smooth: a small step, and a tolerance relative
            // to the gradients' scale (a misplaced injection is off by far more).
            let coordinates = [0, 5, 17, 40]
            let scale = max(1, coordinates.map { abs(Double(analytic[$0])) }.max()!)
            for i in coordinates {
                var plus = weights, minus = weights
                plus[i] += 3e-4; minus[i] -= 3e-4
                let mp = try model(), mm = try model()
                try mp.store.set("conv1.weight", plus)
                try mm.store.set("conv1.weight", minus)
                let numeric = (loss(mp) - loss(mm)) / Double(plus[i] - minus[i])
                XCTAssertEqual(Double(analytic[i]), numeric, accuracy: 0.02 * scale, "tap \(target), weight \(i)")
            }
        }
    }
}

/// How attention transfer pairs the student's stages with the teacher's.
final class AttentionPairingTests: XCTestCase {
    private func teacher(_ sizes: [Int]) -> ModelFeatures {
        ModelFeatures(embeddingSize: 1, embedding: [0], attention: sizes.enumerated().map {
            .init(name: "stage\($0.offset + 1)", channels: 1, height: $0.element, width: $0.element, values: [Float](repeating: 0, count: $0.element * $0.element))
        })
    }

    private func pairs(_ student: [Int], _ t: [Int]) throws -> [[Int]] {
        try AttentionTerm(studentStages: student.map { ($0, $0) }, teacher: teacher(t), weight: 1, file: "params.json").pairs.map { [$0.student, $0.teacher] }
    }

    func testStagesPairBySizeThenByPosition() throws {
        // cnn5 (28, 14, 7, 3) against a CIFAR ResNet (28, 14, 7): by size, the 3x3 stage sits out.
        XCTAssertEqual(try pairs([28, 14, 7, 3], [28, 14, 7]), [[0, 0], [1, 1], [2, 2]])
        XCTAssertEqual(try pairs([14, 7], [28, 14, 7]), [[0, 1], [1, 2]])
        // No size in common, same count: by position.
        XCTAssertEqual(try pairs([16, 8], [28, 14]), [[0, 0], [1, 1]])
        XCTAssertThrowsError(try pairs([16, 8, 4], [28, 14])) {
            XCTAssertEqual("\($0)", "params.json: key 'at_weight': the student's stages (16x16, 8x8, 4x4) cannot be paired with the teacher's (28x28, 14x14): no sizes match and the counts differ")
        }
    }
}
