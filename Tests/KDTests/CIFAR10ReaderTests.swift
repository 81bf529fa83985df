import KDTestSupport
import XCTest
import Engine
import Pipeline

final class CIFAR10ReaderTests: XCTestCase {
    func testReadsGeneratedBatchFiles() throws {
        let dir = try TestSupport.temporaryFolder(self)
        var expectedLabels: [UInt8] = []
        for (i, name) in (CIFAR10Reader.trainFiles + CIFAR10Reader.testFiles).enumerated() {
            let labels = (0..<4).map { UInt8(($0 + i) % 10) }
            if i < 5 { expectedLabels += labels }
            try SyntheticData.write(SyntheticData.cifarRecords(labels: labels, seed: UInt64(i)), to: dir + "/" + name)
        }
        let sets = try DatasetKind.cifar10.load(from: dir)
        let (train, test) = (sets.train, sets.test)
        XCTAssertEqual(train.count, 20)
        XCTAssertEqual(test.count, 4)
        XCTAssertEqual(train.imageShape, [3, 32, 32])
        XCTAssertEqual(train.labels, expectedLabels.map { Int32($0) })
        // Record 1 of batch 1: its pixel bytes follow its label byte, channel-planar.
        let records = SyntheticData.cifarRecords(labels: (0..<4).map { UInt8($0 % 10) }, seed: 0)
        XCTAssertEqual(Array(train.images[3072..<6144]), Array(records[3074..<6146]))
        XCTAssertEqual(train.classNames[9], "truck")
    }

    func testWrongLengthIsRejectedWithTheFileName() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let path = dir + "/test_batch.bin"
        try SyntheticData.write(Array(SyntheticData.cifarRecords(labels: [1, 2], seed: 1).dropLast(100)), to: path)
        XCTAssertThrowsError(try CIFAR10Reader.load(files: [path])) {
            XCTAssertEqual("\($0)", "\(path): length 6046 is not a multiple of the 3073-byte CIFAR-10 record (1 whole records, 2973 bytes over)")
        }
    }

    func testLabelOutOfRangeIsRejected() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let path = dir + "/data_batch_1.bin"
        try SyntheticData.write(SyntheticData.cifarRecords(labels: [3, 12], seed: 1), to: path)
        XCTAssertThrowsError(try CIFAR10Reader.load(files: [path])) {
            XCTAssertEqual("\($0)", "\(path): label 12 of record 1 (byte offset 3073) is not below 10")
        }
    }
}
