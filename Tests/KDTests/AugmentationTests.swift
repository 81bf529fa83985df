import KDTestSupport
import XCTest
import Engine
import Pipeline

final class AugmentationTests: XCTestCase {
    /// Two 1x3x4 images with distinct pixel values.
    private let data = Dataset(name: "t", images: (0..<24).map { UInt8($0 * 10) }, labels: [0, 1],
                               channels: 1, height: 3, width: 4, classNames: ["a", "b"])

    private func assemble(_ assembler: BatchAssembler, _ indices: [Int], _ views: [Augmentation.View] = []) throws -> [Float] {
        var out = [Float](repeating: .nan, count: indices.count * data.imageSize)
        try out.withUnsafeMutableBufferPointer { try assembler.fill($0.baseAddress!, indices: indices, views: views) }
        return out
    }

    func testNormalisationIsToTensorThenNormalize() throws {
        let norm = Normalization(mean: [0.5], std: [0.25])
        let out = try assemble(BatchAssembler(dataset: data, normalization: norm), [1, 0])
        XCTAssertEqual(out.count, 24)
        XCTAssertEqual(out[0], (120 / 255 - 0.5) / 0.25, accuracy: 1e-6) // sample 1 comes first
        XCTAssertEqual(out[12], -2, accuracy: 1e-6)                        // pixel 0 of sample 0
    }

    func testFitComputesPerChannelMeanAndStd() throws {
        let rgb = Dataset(name: "t", images: [0, 255, 10, 10, 0, 0, 0, 255, 20, 30, 0, 0], labels: [0, 1],
                          channels: 3, height: 1, width: 2, classNames: ["a", "b"])
        let n = try Normalization.fit(rgb)
        XCTAssertEqual(n.mean[0], 127.5 / 255, accuracy: 1e-6)
        XCTAssertEqual(n.std[0], 127.5 / 255, accuracy: 1e-6)
        XCTAssertEqual(n.mean[1], 17.5 / 255, accuracy: 1e-6)
        let greens: [Float] = [10, 10, 20, 30]
        let variance = greens.map { ($0 - 17.5) * ($0 - 17.5) }.reduce(0, +) / 4
        XCTAssertEqual(n.std[1], variance.squareRoot() / 255, accuracy: 1e-6)
    }

    /// Crop and flip against a direct reading of torchvision's definition on a padded copy.
    func testCropAndFlipMatchPadThenCropThenFlip() throws {
        let assembler = BatchAssembler(dataset: data, normalization: Normalization(mean: [0], std: [1]))
        let aug = Augmentation(padding: 2, horizontalFlip: true)
        var rng = SeededRNG(seed: 8)
        for _ in 0..<50 {
            let view = aug.drawView(&rng, size: 3)
            XCTAssert((0...4).contains(view.cropX) && (0...4).contains(view.cropY))
            let out = try assemble(assembler, [1], [view])
            // Padded image: (3+4) x (4+4), zeros outside.
            func padded(_ y: Int, _ x: Int) -> Float {
                let (sy, sx) = (y - 2, x - 2)
                guard (0..<3).contains(sy), (0..<4).contains(sx) else { return 0 }
                return Float(data.images[12 + sy * 4 + sx]) / 255
            }
            for y in 0..<3 {
                for x in 0..<4 {
                    let cx = view.flip ? 3 - x : x
                    XCTAssertEqual(out[y * 4 + x], padded(y + view.cropY, cx + view.cropX), accuracy: 1e-6)
                }
            }
        }
    }

    func testViewsAreSeededAndVaried() throws {
        let aug = Augmentation(padding: 4, horizontalFlip: true)
        var r1 = SeededRNG(seed: 2), r2 = SeededRNG(seed: 2)
        let a = (0..<100).map { _ in aug.drawView(&r1, size: 32) }, b = (0..<100).map { _ in aug.drawView(&r2, size: 32) }
        XCTAssertEqual(a, b)
        XCTAssertEqual(Set(a.map { $0.cropX }), Set(0...8))
        XCTAssert(a.contains { $0.flip } && a.contains { !$0.flip })
        var r3 = SeededRNG(seed: 2)
        XCTAssertEqual(Augmentation.none.drawView(&r3, size: 32), Augmentation.View(cropY: 0, cropX: 0, flip: false, padding: 0))
    }

    func testLargeBatchesAssembleInParallelToTheSameResult() throws {
        let big = Dataset(name: "t", images: SyntheticData.images(count: 300, size: 12, seed: 1),
                          labels: [UInt8](repeating: 0, count: 300), channels: 1, height: 3, width: 4, classNames: ["a"])
        let assembler = BatchAssembler(dataset: big, normalization: Normalization(mean: [0.3], std: [0.2]))
        let indices = Array((0..<300).reversed())
        var rng = SeededRNG(seed: 1)
        let views = indices.map { _ in Augmentation(padding: 1, horizontalFlip: true).drawView(&rng, size: 3) }
        var parallel = [Float](repeating: 0, count: 300 * 12)
        try parallel.withUnsafeMutableBufferPointer { try assembler.fill($0.baseAddress!, indices: indices, views: views) }
        var serial = [Float]()
        for chunk in stride(from: 0, to: 300, by: 50) {  // below the parallel threshold
            var part = [Float](repeating: 0, count: 50 * 12)
            try part.withUnsafeMutableBufferPointer {
                try assembler.fill($0.baseAddress!, indices: Array(indices[chunk..<chunk + 50]), views: Array(views[chunk..<chunk + 50]))
            }
            serial += part
        }
        XCTAssertEqual(parallel, serial)
    }
}
