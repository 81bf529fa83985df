import KDTestSupport
import XCTest
import Foundation
import Pipeline

/// The three stages are real executables with helpful `--help`.
final class CommandLineTests: XCTestCase {
    private func runStage(_ name: String, _ args: [String]) throws -> (status: Int32, output: String) {
        try TestSupport.stage(name, args)
    }

    func testEveryStageExplainsItselfInHelp() throws {
        let expectations = [
            "teacher-train": ["Stage 1 of 3", "--model-dir", "--restore-file"],
            "teacher-export": ["Stage 2 of 3", "--checkpoint", "--splits", "--out", "raw"],
            "student-distill": ["Stage 3 of 3", "alpha", "never loaded", "sweep", "results"],
        ]
        for (stage, phrases) in expectations {
            let r = try runStage(stage, ["--help"])
            XCTAssertEqual(r.status, 0, r.output)
            for p in phrases { XCTAssert(r.output.contains(p), "\(stage) --help lacks '\(p)':\n\(r.output)") }
        }
    }

    /// `--version` on every stage: the release and the file formats it writes.
    func testEveryStageSaysItsVersion() throws {
        let expected = "(logits files format \(LogitsFile.formatVersion), checkpoints format \(Checkpoint.formatVersion))"
        for stage in ["teacher-train", "teacher-export", "student-distill"] {
            let r = try runStage(stage, ["--version"])
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssert(r.output.hasPrefix("kd-pipeline ") && r.output.contains(expected), "\(stage) --version: \(r.output)")
        }
    }

    func testStudentSubcommandsExplainThemselves() throws {
        let train = try runStage("student-distill", ["train", "--help"])
        XCTAssert(train.output.contains("--logits") && train.output.contains("--restore-file"), train.output)
        let sweep = try runStage("student-distill", ["sweep", "--help"])
        XCTAssert(sweep.output.contains("sweep.json") && sweep.output.contains("skipped"), sweep.output)
    }

    func testMissingRequiredOptionIsAnErrorWithUsage() throws {
        let r = try runStage("teacher-train", [])
        XCTAssertNotEqual(r.status, 0)
        XCTAssert(r.output.contains("Missing expected argument '--model-dir"), r.output)
    }

    /// --splits is typed: a misspelt split is a usage error before anything runs.
    func testMisspeltSplitIsAUsageError() throws {
        let r = try runStage("teacher-export", ["--model-dir", "/nonexistent", "--splits", "train,tset"])
        XCTAssertEqual(r.status, 64, r.output)
        XCTAssert(r.output.contains("The value 'train,tset' is invalid for '--splits <splits>'"), r.output)
    }
}
