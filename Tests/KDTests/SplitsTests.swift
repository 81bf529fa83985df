import XCTest
import Engine
import Pipeline

final class SplitsTests: XCTestCase {
    /// 1,000 samples with unequal classes: class c has 40 + 4c samples... shuffled in file order.
    private func unevenDataset(count: Int = 1000, classes: Int = 10) -> Dataset {
        var labels = [UInt8]()
        for c in 0..<classes { labels += [UInt8](repeating: UInt8(c), count: 40 + 4 * c) }
        labels += [UInt8](repeating: 0, count: count - labels.count)
        var rng = SeededRNG(seed: 99)
        rng.shuffle(&labels)
        let images = (0..<count * 4).map { UInt8($0 % 251) }
        return Dataset(name: "t", images: images, labels: labels, channels: 1, height: 2, width: 2,
                       classNames: (0..<classes).map(String.init))
    }

    func testSameSeedSameSplitsDifferentSeedDifferentSplits() throws {
        let data = unevenDataset()
        let a = try DatasetSplits(officialTrain: data, officialTest: data, valCount: 100, seed: 1)
        let b = try DatasetSplits(officialTrain: data, officialTest: data, valCount: 100, seed: 1)
        let c = try DatasetSplits(officialTrain: data, officialTest: data, valCount: 100, seed: 2)
        XCTAssertEqual(a.valSourceIndices, b.valSourceIndices)
        XCTAssertEqual(try a.train.fingerprint(), try b.train.fingerprint())
        XCTAssertNotEqual(a.valSourceIndices, c.valSourceIndices)
    }

    func testTrainAndValAreDisjointCoverTheSetAndKeepFileOrder() throws {
        let data = unevenDataset()
        let s = try DatasetSplits(officialTrain: data, officialTest: data, valCount: 137, seed: 5)
        XCTAssertEqual(s.val.count, 137)
        XCTAssertEqual(s.train.count, 1000 - 137)
        XCTAssert(Set(s.trainSourceIndices).isDisjoint(with: s.valSourceIndices))
        XCTAssertEqual(Set(s.trainSourceIndices + s.valSourceIndices), Set(0..<1000))
        XCTAssertEqual(s.valSourceIndices, s.valSourceIndices.sorted())
        XCTAssertEqual(s.trainSourceIndices, s.trainSourceIndices.sorted())
        // The split's rows are the official rows at those indices.
        XCTAssertEqual(s.val.labels, s.valSourceIndices.map { data.labels[$0] })
        XCTAssertEqual(Array(s.val.images[4..<8]), Array(data.images[(s.valSourceIndices[1] * 4)..<(s.valSourceIndices[1] * 4 + 4)]))
    }

    func testValidationIsStratified() throws {
        let data = unevenDataset()
        let s = try DatasetSplits(officialTrain: data, officialTest: data, valCount: 200, seed: 3)
        let full = data.classCounts(), val = s.val.classCounts()
        for c in 0..<10 {
            let share = Double(full[c]) * 200 / 1000
            XCTAssertLessThanOrEqual(abs(Double(val[c]) - share), 1.0, "class \(c): \(val[c]) vs \(share)")
        }
    }

    func testSubsetIsStratifiedSeededAndIndexesTheTrainSplit() throws {
        let data = unevenDataset()
        let s = try DatasetSplits(officialTrain: data, officialTest: data, valCount: 100, seed: 3)
        let subset = try s.subsetIndices(fraction: 0.25)
        XCTAssertEqual(subset.count, 225)
        XCTAssertEqual(subset, try s.subsetIndices(fraction: 0.25), "seeded")
        XCTAssertEqual(subset, subset.sorted())
        XCTAssert(subset.allSatisfy { $0 < s.train.count })
        XCTAssertEqual(try s.subsetIndices(fraction: 1), Array(0..<s.train.count))
        let counts = s.train.subset(subset).classCounts()
        for c in 0..<10 { XCTAssertLessThanOrEqual(abs(Double(counts[c]) - Double(s.train.classCounts()[c]) / 4), 1.0) }
        XCTAssertThrowsError(try s.subsetIndices(fraction: 0))
        XCTAssertThrowsError(try s.subsetIndices(fraction: 1.5))
    }

    func testOutOfRangeSettingsAreErrors() {
        let data = unevenDataset()
        XCTAssertThrowsError(try DatasetSplits(officialTrain: data, officialTest: data, valCount: 1000, seed: 1))
        XCTAssertThrowsError(try DatasetSplits(officialTrain: data, officialTest: data, valCount: -1, seed: 1))
    }

    func testBatchSamplerCoversEveryIndexOncePerEpochAndReshuffles() {
        let sampler = BatchSampler(count: 103, batchSize: 10, shuffle: true, seed: 4)
        XCTAssertEqual(sampler.batchesPerEpoch, 11)
        let e0 = sampler.batches(epoch: 0), e1 = sampler.batches(epoch: 1)
        XCTAssertEqual(e0.map(\.count), [Int](repeating: 10, count: 10) + [3])
        XCTAssertEqual(e0.flatMap { $0 }.sorted(), Array(0..<103))
        XCTAssertNotEqual(e0, e1)
        XCTAssertEqual(e1, BatchSampler(count: 103, batchSize: 10, shuffle: true, seed: 4).batches(epoch: 1))
        XCTAssertEqual(BatchSampler(count: 5, batchSize: 2, shuffle: false, seed: 4).batches(epoch: 3), [[0, 1], [2, 3], [4]])
    }
}
