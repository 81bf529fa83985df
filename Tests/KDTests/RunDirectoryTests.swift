import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

final class RunDirectoryTests: XCTestCase {
    /// Reports read and write in the files' snake_case spelling (what older runs and scripts
    /// reading the JSON use); an absent report is nil, a malformed one an error naming the file.
    func testReportsRoundTripInTheFilesSpelling() throws {
        let run = RunDirectory(try TestSupport.temporaryFolder(self))
        let json = #"{"accuracy": 0.5, "epoch": 3, "loss": 1.25, "train_accuracy": 0.75, "train_loss": 0.5}"#
        try Data(json.utf8).write(to: URL(fileURLWithPath: run.path(.valBestMetrics)))
        let metrics = try XCTUnwrap(try run.read(EpochMetrics.self, from: .valBestMetrics))
        XCTAssertEqual([metrics.accuracy, metrics.loss, metrics.trainAccuracy, metrics.trainLoss], [0.5, 1.25, 0.75, 0.5])
        XCTAssertEqual(metrics.epoch, 3)
        try run.write(metrics, to: .valLastMetrics)
        let written = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run.path(.valLastMetrics)))) as? [String: Any]
        XCTAssertEqual(Set(written?.keys ?? [:].keys), ["accuracy", "epoch", "loss", "train_accuracy", "train_loss"])
        XCTAssertEqual(try run.read(EpochMetrics.self, from: .valLastMetrics), metrics)
        XCTAssertNil(try run.read(TestMetrics.self, from: .testBestMetrics))

        try Data(#"{"accuracy": 0.5, "epoch": 3, "loss": 1.25, "train_loss": 0.5}"#.utf8).write(to: URL(fileURLWithPath: run.path(.valBestMetrics)))
        XCTAssertThrowsError(try run.read(EpochMetrics.self, from: .valBestMetrics)) {
            XCTAssertEqual("\($0)", run.path(.valBestMetrics) + ": is not the EpochMetrics report this tool writes (key 'train_accuracy' missing)")
        }
    }
}
