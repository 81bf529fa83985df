import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// The three stages as a user runs them, on a small synthetic dataset in the real file formats.
/// One teacher is trained and exported once for the whole class; each test works in its own
/// folders beside it.
final class PipelineTests: XCTestCase {
    nonisolated(unsafe) static var root = ""
    nonisolated(unsafe) static var setUpError: String?

    /// 600 + 200 images of 12x12, 10 classes; val 100.
    static var dataDir: String { root + "/data" }
    static var teacherDir: String { root + "/teacher" }

    static func baseParams(_ extra: [String: Any] = [:]) -> [String: Any] {
        var p: [String: Any] = ["dataset": "mnist", "data_dir": dataDir, "val_size": 100, "batch_size": 64,
                                "num_epochs": 2, "seed": 3, "save_summary_steps": 5]
        for (k, v) in extra { p[k] = v }
        return p
    }

    static func studentParams(_ extra: [String: Any] = [:]) -> [String: Any] {
        baseParams(["model_version": "cnn5", "num_channels": 4, "alpha": 0.9, "temperature": 4,
                    "teacher_logits": teacherDir + "/logits", "optimizer": "adam", "learning_rate": 1e-3].merging(extra) { $1 })
    }

    /// Builds the shared fixture once per test process (BadInputTests uses it too) and removes
    /// it when the process exits.
    override class func setUp() {
        super.setUp()
        guard root.isEmpty else { return }
        atexit { try? FileManager.default.removeItem(atPath: PipelineTests.root) }
        root = FileManager.default.temporaryDirectory.appendingPathComponent("kd-pipeline-\(UUID().uuidString)").path
        do {
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
            try SyntheticData.writeIDXFolder(dataDir, train: 600, test: 200, rows: 12, cols: 12)
            try TestSupport.writeParams(teacherDir, baseParams(["model_version": "resnet8", "optimizer": "sgd", "learning_rate": 0.05]))
            let train = try TestSupport.stage("teacher-train", ["--model-dir", teacherDir])
            guard train.status == 0 else { setUpError = "teacher-train failed: \(train.output)"; return }
            let export = try TestSupport.stage("teacher-export", ["--model-dir", teacherDir])
            guard export.status == 0 else { setUpError = "teacher-export failed: \(export.output)"; return }
        } catch {
            setUpError = "\(error)"
        }
    }

    override func setUpWithError() throws {
        if let e = Self.setUpError { XCTFail(e); throw XCTSkip("no teacher") }
    }

    private func folder(_ name: String) -> String { Self.root + "/" + name + "-" + UUID().uuidString.prefix(8) }

    private func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    // MARK: - The chain

    func testTeacherOutputsAndLogitsFiles() throws {
        let t = Self.teacherDir
        for f in ["best.h5", "last.h5", "train.log", "metrics_val_best_weights.json", "metrics_val_last_weights.json",
                  "metrics_test_best_weights.json", "logits/train.h5", "logits/val.h5", "logits/test.h5", "logits/export.json"] {
            XCTAssert(exists(t + "/" + f), "missing \(f)")
        }
        let train = try LogitsFile.read(t + "/logits/train.h5")
        XCTAssertEqual(train.count, 500)
        XCTAssertEqual(train.metadata.numClasses, 10)
        XCTAssertEqual(train.metadata.teacherModel, "resnet8")
        XCTAssertEqual(train.indices, (0..<500).map(Int64.init))
        XCTAssertEqual(train.metadata.checkpointSHA256, try Checkpoint.sha256(of: t + "/best.h5"))
        // The recorded teacher accuracy is what the logits say.
        XCTAssertEqual(train.metadata.teacherAccuracy, Predictions.accuracy(logits: train.logits, labels: train.labels, classes: 10), accuracy: 1e-12)
        let log = try String(contentsOfFile: t + "/train.log", encoding: .utf8)
        XCTAssert(log.contains("epoch 2/2"), log)
        // metrics.csv holds history.json's epochs, column for column.
        let history = try XCTUnwrap(try RunDirectory(t).read(TrainingHistory.self, from: .history))
        let lines = try String(contentsOfFile: t + "/metrics.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds")
        XCTAssertEqual(lines.count, 1 + history.epochs.count)
        XCTAssertEqual(history.epochs.count, 2)
        for (line, e) in zip(lines.dropFirst(), history.epochs) {
            let v = line.split(separator: ",").map { Double(String($0))! }
            XCTAssertEqual(v, [Double(e.epoch), e.trainLoss, e.trainAccuracy, e.valLoss, e.valAccuracy, e.learningRate, e.seconds], line)
        }
    }

    /// `student-distill evaluate` on the teacher's run: best.h5 on test gives the stage's own
    /// end-of-run figure; last.h5 on val is reported with its epoch.
    func testEvaluateAnyCheckpointOnAnySplit() throws {
        let t = Self.teacherDir
        let r = try TestSupport.stage("student-distill", ["evaluate", "--model-dir", t, "--split", "test", "--checkpoint", "best"])
        XCTAssertEqual(r.status, 0, r.output)
        let stage = try XCTUnwrap(try RunDirectory(t).read(TestMetrics.self, from: .testBestMetrics))
        let best = try XCTUnwrap(try RunDirectory.readJSON(EvaluationReport.self, from: t + "/evaluation_test_best.json"))
        XCTAssertEqual(best.accuracy, stage.accuracy)
        XCTAssertEqual(best.loss, stage.loss, accuracy: 1e-9)
        XCTAssertEqual(best.images, 200)
        XCTAssert(r.output.contains("best.h5 (epoch \(best.epoch)) on the test split (200 images): accuracy"), r.output)
        let v = try TestSupport.stage("student-distill", ["evaluate", "--model-dir", t, "--split", "val", "--checkpoint", "last"])
        XCTAssertEqual(v.status, 0, v.output)
        let last = try XCTUnwrap(try RunDirectory.readJSON(EvaluationReport.self, from: t + "/evaluation_val_last.json"))
        XCTAssertEqual([last.epoch, last.images], [2, 100])
        let history = try XCTUnwrap(try RunDirectory(t).read(TrainingHistory.self, from: .history))
        XCTAssertEqual(last.accuracy, history.epochs.last?.valAccuracy)
        let bad = try TestSupport.stage("student-distill", ["evaluate", "--model-dir", t, "--split", "tset"])
        XCTAssertEqual(bad.status, 64, bad.output)
    }

    /// `--set` overrides params.json for a run directory, is recorded in overrides.json and
    /// applied by later stages there; a bad value is refused naming the override, and a
    /// malformed one is a usage error.
    func testSetOverridesParamsAndIsRecorded() throws {
        let dir = Self.root + "/set-" + UUID().uuidString.prefix(8)
        try TestSupport.writeParams(dir, Self.studentParams(["num_epochs": 2]))
        let r = try TestSupport.stage("student-distill", ["--model-dir", dir, "--set", "num_epochs=1", "--set", "learning_rate=0.01"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(try XCTUnwrap(try RunDirectory(dir).read(TrainingHistory.self, from: .history)).epochs.count, 1)
        let recorded = try XCTUnwrap(try ParamsOverrides.read(from: dir + "/overrides.json"))
        XCTAssertEqual(recorded.values, ["num_epochs": .number(1), "learning_rate": .number(0.01)])
        let log = try String(contentsOfFile: dir + "/train.log", encoding: .utf8)
        XCTAssert(log.contains("params: overrides.json (--set) sets learning_rate=0.01, num_epochs=1 on top of params.json"), log)
        // Later stages in the directory apply the recorded keys without being told again.
        XCTAssertEqual(try RunSetup(runDir: dir).params.numEpochs, 1)

        let bad = try TestSupport.stage("student-distill", ["--model-dir", dir, "--set", "alpha=2"])
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssert(bad.output.contains(dir + "/params.json with --set alpha=2, learning_rate=0.01, num_epochs=1: key 'alpha': 2 is outside [0, 1]"), bad.output)
        XCTAssertEqual(try ParamsOverrides.read(from: dir + "/overrides.json"), recorded, "a refused override is not recorded")
        let malformed = try TestSupport.stage("student-distill", ["--model-dir", dir, "--set", "alpha"])
        XCTAssertEqual(malformed.status, 64, malformed.output)
        XCTAssert(malformed.output.contains("--set alpha: expected key=value"), malformed.output)
    }

    /// `student-distill summary` reads the reports through the stages' own types.
    func testSummaryLinePerRun() throws {
        let metrics = try XCTUnwrap(try RunDirectory(Self.teacherDir).read(TestMetrics.self, from: .testBestMetrics))
        let r = try TestSupport.stage("student-distill", ["summary", Self.teacherDir, Self.root + "/nowhere"])
        XCTAssertNotEqual(r.status, 0, "a missing run directory is an error: \(r.output)")
        let ok = try TestSupport.stage("student-distill", ["summary", Self.teacherDir])
        XCTAssertEqual(ok.status, 0, ok.output)
        XCTAssert(ok.output.hasPrefix("teacher          resnet8   : test accuracy \(percent(metrics.accuracy)) (best validation "), ok.output)
    }

    /// The export stage is a library function: called in this process it writes the same
    /// logits as the teacher-export executable did.
    func testExportAsALibraryCallMatchesTheExecutable() throws {
        let out = try TestSupport.temporaryFolder(self)
        var said: [String] = []
        let report = try TeacherExportRun.run(modelDir: Self.teacherDir, splits: [.val], out: out) { said.append($0) }
        XCTAssertEqual(report.images, 100)
        XCTAssertEqual(said.count, 2, "\(said)")
        let mine = try LogitsFile.read(out + "/val.h5"), theirs = try LogitsFile.read(Self.teacherDir + "/logits/val.h5")
        XCTAssertEqual(mine.logits, theirs.logits)
        XCTAssertEqual(mine.metadata, theirs.metadata)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/train.h5"), "only the splits asked for")
    }

    /// teacher-export --features: the embedding and attention maps go into the logits file, are
    /// what the model computes for those rows, come back through h5py as documented, and a
    /// feature value changed after export is caught by its checksum.
    func testExportWithFeatures() throws {
        let out = try TestSupport.temporaryFolder(self)
        let r = try TestSupport.stage("teacher-export", ["--model-dir", Self.teacherDir, "--splits", "val", "--out", out, "--features"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssert(r.output.contains("features: embedding [100, "), r.output)
        let setup = try RunSetup(runDir: Self.teacherDir)
        let file = try LogitsFile.load(out + "/val.h5", for: setup.splits.val, split: .val)
        let features = try XCTUnwrap(file.features)
        XCTAssertEqual(file.logits, try LogitsFile.read(Self.teacherDir + "/logits/val.h5").logits, "features leave the logits as they were")
        // The same rows computed here, in batches of another size.
        let model = try setup.makeModel()
        try Checkpoint.load(setup.directory.path(.best), into: model)
        var evaluator = Evaluator(model: model, data: setup.splits.val, normalization: setup.normalization)
        evaluator.batchSize = 7
        let again = try XCTUnwrap(evaluator.run(features: true).features)
        LayerCheck.assertClose(features.embedding, again.embedding, "embedding")
        XCTAssertEqual(features.attention.map(\.name), again.attention.map(\.name))
        XCTAssertFalse(features.attention.isEmpty)
        for (a, b) in zip(features.attention, again.attention) { LayerCheck.assertClose(a.values, b.values, a.name) }

        guard (try? TestSupport.run("/usr/bin/python3", ["-c", "import h5py"]).status) == 0 else {
            throw XCTSkip("Debian's python3-h5py is not installed (make test installs it): the h5py half of this test did not run")
        }
        let script = """
        import h5py, sys
        f = h5py.File(sys.argv[1], "r+")
        e = f["features/embedding"]
        maps = sorted(k for k in f["features"] if k.startswith("attention_"))
        a = f["features/" + maps[0]]
        print(e.shape, a.shape, a.attrs["height"] * a.attrs["width"] == a.shape[1], len(f["logits"]))
        a[0, 0] = a[0, 0] + 1
        """
        let h5py = try TestSupport.run("/usr/bin/python3", ["-c", script, out + "/val.h5"])
        XCTAssertEqual(h5py.output.trimmingCharacters(in: .whitespacesAndNewlines),
                       "(100, \(features.embeddingSize)) (100, \(features.attention[0].values.count / 100)) True 100", h5py.output)
        XCTAssertThrowsError(try LogitsFile.read(out + "/val.h5")) {
            XCTAssert("\($0)".contains("'features' do not match the checksum written at export (features_sha256)"), "\($0)")
        }
    }

    /// The shared teacher's export with features, in a new folder.
    private func featuresDir() throws -> String { try Self.export(["--features"], into: "logits-with-features") }

    /// Exports the shared teacher with extra `options` (`--features`, `--views 3`) into a new
    /// folder named after `name`, and returns the folder.
    static func export(_ options: [String], into name: String) throws -> String {
        let dir = root + "/" + name + "-" + UUID().uuidString.prefix(8)
        let r = try TestSupport.stage("teacher-export", ["--model-dir", teacherDir, "--out", dir] + options)
        guard r.status == 0 else { throw KDError(file: dir, "teacher-export failed: \(r.output)") }
        return dir
    }

    /// Students with attention transfer (and KD) and with relational KD from the teacher's
    /// exported features: AT pairs the stages by size and says so; both train and resume
    /// bit-exactly.
    func testFeatureMethodStudentsTrainAndResumeExactly() throws {
        let features = try featuresDir()
        let params = Self.studentParams(["alpha": 0.5, "num_epochs": 3, "at_weight": 1000, "teacher_logits": features])
        try checkResume(params, says: "Attention transfer (weight 1000): stage1 12x12 <- teacher stage1 12x12, stage2 6x6 <- teacher stage2 6x6, stage3 3x3 <- teacher stage3 3x3")
        // Relational KD alone (cross-entropy plus RKD on the embeddings: 16 for cnn5 here, 64 for the teacher).
        let rkd = Self.studentParams(["alpha": 0, "num_epochs": 3, "rkd_distance_weight": 25, "rkd_angle_weight": 50, "teacher_logits": features])
        try checkResume(rkd, says: "relational KD distance 25, angle 50")
        // Without the features the run stops before training, naming the file.
        let plain = folder("at-no-features")
        try TestSupport.writeParams(plain, Self.studentParams(["at_weight": 1000]))
        let r = try TestSupport.stage("student-distill", ["--model-dir", plain])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssert(r.output.contains("train.h5: has no 'features/attention_stage<i>', which at_weight 1000 needs: export it with teacher-export --features"), r.output)
        try TestSupport.writeParams(plain, Self.studentParams(["rkd_angle_weight": 50]))
        let noEmbedding = try TestSupport.stage("student-distill", ["--model-dir", plain])
        XCTAssertEqual(noEmbedding.status, 1, noEmbedding.output)
        XCTAssert(noEmbedding.output.contains("train.h5: has no 'features/embedding', which relational KD needs: export it with teacher-export --features"), noEmbedding.output)
    }

    /// The student trains from the logits alone: the teacher's checkpoints are removed first.
    func testStudentsTrainWithoutTheTeacherCheckpoint() throws {
        let copy = folder("teacher-copy")
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.teacherDir + "/logits", toPath: copy + "/logits")
        let kd = folder("kd"), scratch = folder("scratch")
        try TestSupport.writeParams(kd, Self.studentParams(["teacher_logits": copy + "/logits"]))
        try TestSupport.writeParams(scratch, Self.studentParams(["alpha": 0]).filter { $0.key != "teacher_logits" })
        let r = try TestSupport.stage("student-distill", ["--model-dir", kd])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssert(r.output.contains("teacher agreement"), r.output)
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: kd + "/metrics_test_best_weights.json"))) as! [String: Any]
        XCTAssertNotNil(metrics["teacher_agreement"] as? Double)
        XCTAssertNotNil(metrics["accuracy"] as? Double)
        let val = try XCTUnwrap(try RunDirectory(kd).read(EpochMetrics.self, from: .valBestMetrics))
        let kl = try XCTUnwrap(val.klToTeacher)
        XCTAssert(kl > 0 && kl.isFinite, "KL to teacher \(kl)")
        XCTAssert((0...1).contains(try XCTUnwrap(val.teacherAgreement)))
        let s = try TestSupport.stage("student-distill", ["--model-dir", scratch])
        XCTAssertEqual(s.status, 0, s.output)
        XCTAssert(exists(scratch + "/best.h5") && exists(scratch + "/metrics_test_best_weights.json"))
    }

    /// h5py reads the checkpoint and logits as they are: the weights load into the PyTorch
    /// definition with strict names and shapes, and reproduce the exported test logits.
    func testPyTorchLoadsTheCheckpointAndReproducesTheLogits() throws {
        guard (try? TestSupport.run("/usr/bin/python3", ["-c", "import torch, h5py"]).status) == 0 else {
            throw XCTSkip("Debian's python3-torch and python3-h5py are not installed (make test installs them)")
        }
        let script = TestSupport.root + "/scripts/check_interop.py"
        let t = Self.teacherDir
        let r = try TestSupport.run("/usr/bin/python3", [script, t + "/best.h5", t + "/logits/test.h5",
                                                         Self.dataDir + "/t10k-images-idx3-ubyte.gz", "resnet8"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssert(r.output.hasPrefix("ok"), r.output)
    }

    // MARK: - Resume

    /// A run killed with SIGKILL in the middle of epoch 2 and resumed from last.h5 ends with
    /// the same weights and metrics, bit for bit, as one never interrupted (the one real
    /// SIGKILL; the other resume cases interrupt in this process). Dropout and
    /// augmentation are on, the latter replaying a multi-view export, so the dropout
    /// generator's state and the views each epoch replays must come back the same.
    func testResumeAfterSIGKILLMatchesAnUninterruptedRun() throws {
        let views = try Self.export(["--views", "3"], into: "logits-3-views")
        try checkResume(Self.studentParams(["alpha": 0.5, "num_epochs": 3, "augmentation": true, "dropout_rate": 0.3, "teacher_logits": views]),
                        says: "Replaying the teacher's 3 augmented views per training image", interrupt: .sigkill)
        // The plain export's fixed teacher, when asked for, resumes exactly too.
        try checkResume(Self.studentParams(["alpha": 0.5, "num_epochs": 3, "augmentation": true, "allow_fixed_teacher": true]),
                        says: "warning: allow_fixed_teacher")
    }

    /// DKD on standardised logits, killed inside the warm-up: the resumed run must rebuild the
    /// epoch's warm-up factor, which the uninterrupted run changes every epoch.
    func testDKDWithStandardisedLogitsResumesExactly() throws {
        try checkResume(Self.studentParams(["alpha": 0.5, "num_epochs": 3, "kd_method": "dkd", "dkd_warmup": 3,
                                            "logit_standardization": true, "temperature": 2]),
                        says: "DKD alpha 0.5 (1 target, 8 non-target, 3-epoch warm-up), T 2, standardised logits")
    }

    /// How `checkResume` interrupts the second run: a real SIGKILL of the stage's process, or
    /// (cheaper, for the cases that test what resuming restores) an error thrown from
    /// `RunContext.afterBatch` in this process, which ends the run at the same point.
    enum Interruption { case sigkill, inProcess }

    private struct Interrupted: Error {}

    /// Trains `params` once uninterrupted and once interrupted in epoch 2 and resumed from
    /// last.h5: weights, optimizer state and metrics must be identical.
    private func checkResume(_ params: [String: Any], says description: String, interrupt: Interruption = .inProcess,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let a = folder("whole"), b = folder("killed")
        try TestSupport.writeParams(a, params)
        try TestSupport.writeParams(b, params)
        // 500 samples / 64 = 8 batches per epoch: batch 11 is in the middle of epoch 2.
        switch interrupt {
        case .sigkill:
            let whole = try TestSupport.stage("student-distill", ["--model-dir", a])
            XCTAssertEqual(whole.status, 0, whole.output, file: file, line: line)
            let killed = try TestSupport.stage("student-distill", ["--model-dir", b], environment: ["KD_TEST_KILL_AFTER_BATCHES": "11"])
            XCTAssertEqual(killed.status, -9, "expected SIGKILL: \(killed.output)")
            XCTAssertEqual(try Checkpoint.peekEpoch(b + "/last.h5"), 1)
            let resumed = try TestSupport.stage("student-distill", ["--model-dir", b, "--restore-file", "last"])
            XCTAssertEqual(resumed.status, 0, resumed.output)
        case .inProcess:
            try StudentRun.run(modelDir: a)
            let stop = RunContext(afterBatch: { if $0 >= 11 { throw Interrupted() } })
            XCTAssertThrowsError(try StudentRun.run(modelDir: b, context: stop), file: file, line: line) { XCTAssert($0 is Interrupted, "\($0)") }
            XCTAssertEqual(try Checkpoint.peekEpoch(b + "/last.h5"), 1)
            try StudentRun.run(modelDir: b, restore: .last)
        }
        let log = try String(contentsOfFile: a + "/train.log", encoding: .utf8)
        XCTAssert(log.contains(description), "'\(description)' not in: \(log)", file: file, line: line)
        XCTAssert(try String(contentsOfFile: b + "/train.log", encoding: .utf8).contains("Resumed from"), file: file, line: line)
        let fa = try HDF5File.open(a + "/last.h5"), fb = try HDF5File.open(b + "/last.h5")
        var compared = 0
        for name in try fa.children() where name != "training" && name != "optimizer" {
            if name.hasSuffix("num_batches_tracked") {
                XCTAssertEqual(try fa.read(name, as: Int64.self).values, try fb.read(name, as: Int64.self).values, name)
            } else {
                XCTAssertEqual(try fa.read(name, as: Float.self).values, try fb.read(name, as: Float.self).values, name)
            }
            compared += 1
        }
        XCTAssertGreaterThan(compared, 10)
        XCTAssertEqual(try fa.read("optimizer/second_moment", as: Float.self).values, try fb.read("optimizer/second_moment", as: Float.self).values)
        for m in ["metrics_val_last_weights.json", "metrics_val_best_weights.json"] {
            XCTAssertEqual(try String(contentsOfFile: a + "/" + m, encoding: .utf8), try String(contentsOfFile: b + "/" + m, encoding: .utf8), m)
        }
        // The test metrics too, except the wall time.
        func testMetrics(_ dir: String) throws -> NSDictionary {
            let d = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/metrics_test_best_weights.json"))) as! [String: Any]
            return d.filter { $0.key != "wall_seconds" } as NSDictionary
        }
        XCTAssertEqual(try testMetrics(a), try testMetrics(b))
    }
}
