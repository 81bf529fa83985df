import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// Data read batch by batch from its file, labels past 256 classes, exports written as the rows
/// come: a generated image-store of 300 classes run through the three stages twice, in memory
/// and under a 1 MiB memory budget (images, and the teacher's train logits, then stay in their
/// files), must give the same files bit for bit.
final class ScaleTests: XCTestCase {
    nonisolated(unsafe) static var root = ""
    nonisolated(unsafe) static var setUpError: String?
    static var dataDir: String { root + "/data" }

    /// 2400 + 300 + 300 images of 3x12x12 (1.3 MB), 300 classes.
    override class func setUp() {
        super.setUp()
        root = FileManager.default.temporaryDirectory.appendingPathComponent("kd-scale-\(UUID().uuidString)").path
        do {
            let r = try TestSupport.stage("kd-bench", ["make-store", "--out", dataDir, "--train", "2400", "--val", "300", "--test", "300",
                                                       "--classes", "300", "--size", "12", "--seed", "5"])
            if r.status != 0 { setUpError = "kd-bench make-store failed: \(r.output)" }
        } catch {
            setUpError = "\(error)"
        }
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(atPath: root)
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let e = Self.setUpError { XCTFail(e); throw XCTSkip("no data") }
    }

    static func params(_ extra: [String: Any]) -> [String: Any] {
        var p: [String: Any] = ["dataset": "image-store", "data_dir": dataDir, "model_version": "cnn5", "num_channels": 8,
                                "batch_size": 64, "num_epochs": 2, "seed": 3, "optimizer": "adam", "learning_rate": 2e-3,
                                "augmentation": false]
        for (k, v) in extra { p[k] = v }
        return p
    }

    /// Teacher, export and student in `dir`, with `extra` keys; the stages' output.
    @discardableResult
    func chain(_ dir: String, _ extra: [String: Any]) throws -> String {
        try TestSupport.writeParams(dir + "/teacher", Self.params(extra))
        var output = ""
        for (stage, args) in [("teacher-train", ["--model-dir", dir + "/teacher"]), ("teacher-export", ["--model-dir", dir + "/teacher"])] {
            let r = try TestSupport.stage(stage, args)
            XCTAssertEqual(r.status, 0, "\(stage): \(r.output)")
            output += r.output
        }
        try TestSupport.writeParams(dir + "/student", Self.params(extra.merging(["alpha": 0.7, "temperature": 4, "num_channels": 4,
                                                                                   "teacher_logits": dir + "/teacher/logits"]) { $1 }))
        let r = try TestSupport.stage("student-distill", ["--model-dir", dir + "/student"])
        XCTAssertEqual(r.status, 0, "student-distill: \(r.output)")
        return output + r.output + ((try? String(contentsOfFile: dir + "/student/train.log", encoding: .utf8)) ?? "")
    }

    private func weightsDigest(_ checkpoint: String) throws -> String {
        try HDF5File.open(checkpoint).stringAttribute("state_dict_sha256")
    }

    func testStreamedDataTrainsAndExportsBitwiseLikeInMemory() throws {
        let memory = Self.root + "/memory", streamed = Self.root + "/streamed"
        try chain(memory, [:])
        let log = try chain(streamed, ["memory_budget_mb": 1])
        XCTAssert(log.contains("read from the file batch by batch"), "the student's train logits stayed on disk: \(log)")
        for run in ["teacher", "student"] {
            for file in ["best.h5", "last.h5"] {
                XCTAssertEqual(try weightsDigest("\(memory)/\(run)/\(file)"), try weightsDigest("\(streamed)/\(run)/\(file)"), "\(run)/\(file)")
            }
        }
        for split in SplitName.allCases {
            let a = try LogitsFile.read("\(memory)/teacher/logits/\(split.rawValue).h5")
            let b = try LogitsFile.read("\(streamed)/teacher/logits/\(split.rawValue).h5")
            XCTAssertEqual(a.logits, b.logits, "\(split) logits")
            XCTAssertEqual(a.labels, b.labels, "\(split) labels")
            var bm = b.metadata
            bm.checkpointSHA256 = a.metadata.checkpointSHA256  // the checkpoint files record their params, which differ
            XCTAssertEqual(a.metadata, bm, "\(split) metadata")
            XCTAssertEqual(a.metadata.numClasses, 300)
        }
        // Labels past 255 made it through: the store's, the file's and the student's metrics.
        let train = try LogitsFile.read("\(memory)/teacher/logits/train.h5")
        XCTAssertGreaterThan(train.labels.max() ?? 0, 255)
        let test = try XCTUnwrap(try RunDirectory(memory + "/student").read(TestMetrics.self, from: .testBestMetrics))
        XCTAssertGreaterThan(test.accuracy, 1.0 / 300, "the student learned something of 300 classes")
    }

    /// An export killed with SIGKILL while it writes the train rows leaves no train.h5; run
    /// again, it writes the same file an uninterrupted export does.
    func testAnExportKilledMidwayLeavesNothingAndRunsAgain() throws {
        let dir = Self.root + "/killed"
        try TestSupport.writeParams(dir, Self.params(["num_epochs": 1]))
        XCTAssertEqual(try TestSupport.stage("teacher-train", ["--model-dir", dir]).status, 0)
        let reference = dir + "/reference", out = dir + "/out"
        XCTAssertEqual(try TestSupport.stage("teacher-export", ["--model-dir", dir, "--views", "8", "--out", reference]).status, 0)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = TestSupport.productsFolder.appendingPathComponent("teacher-export")
        process.arguments = ["--model-dir", dir, "--views", "8", "--out", out]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Killed as soon as the train rows' temporary file appears.
        var killed = false
        while process.isRunning {
            if (try FileManager.default.contentsOfDirectory(atPath: out)).contains(where: { $0.hasPrefix(".train.h5.") }) {
                kill(process.processIdentifier, SIGKILL)
                killed = true
                break
            }
            usleep(500)
        }
        process.waitUntilExit()
        XCTAssert(killed, "the export ended before it could be killed")
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/train.h5"), "a killed export left a train.h5")
        let again = try TestSupport.stage("teacher-export", ["--model-dir", dir, "--views", "8", "--out", out])
        XCTAssertEqual(again.status, 0, again.output)
        let (a, b) = (try LogitsFile.read(reference + "/train.h5"), try LogitsFile.read(out + "/train.h5"))
        XCTAssertEqual(a.logits, b.logits)
        XCTAssertEqual(a.metadata, b.metadata)
        XCTAssertEqual(a.views?.table, b.views?.table)
    }

    /// A store of non-square images is refused with one line naming it (the models pool square
    /// planes; teacher-train used to stop on an engine precondition).
    func testNonSquareImagesAreRefused() throws {
        let dir = Self.root + "/wide-images"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/" + ImageStore.fileName
        let writer = try ImageStore.Writer(path: path, classNames: ["a", "b"])
        let pixels = [UInt8](repeating: 7, count: 4 * 8 * 16)
        for split in ["train", "test"] {
            try writer.begin(split, count: 4, shape: [1, 8, 16])
            try pixels.withUnsafeBytes { try writer.append($0.baseAddress!, labels: [0, 1, 0, 1]) }
        }
        try writer.finish()
        XCTAssertThrowsError(try ImageStore.load(path, name: "wide", memoryBudget: .max)) { error in
            XCTAssert("\(error)".contains("'train/images' are 8x16; the models take square images"), "\(error)")
        }
    }
}
