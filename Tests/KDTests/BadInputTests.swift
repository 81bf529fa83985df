import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// DESIGN.md's "bad input" list, as a user meets it: each case runs a stage, and checks the
/// exit status, the one-line message naming the file (and key or row), and that nothing was
/// written. Shares PipelineTests' trained teacher and synthetic data.
final class BadInputTests: XCTestCase {
    override func setUpWithError() throws {
        PipelineTests.setUp()  // the shared fixture; built once per process
        if let e = PipelineTests.setUpError { XCTFail(e); throw XCTSkip("no teacher") }
    }

    private func folder(_ name: String) -> String { PipelineTests.root + "/bad-" + name + "-" + UUID().uuidString.prefix(8) }

    /// Runs `stage` on `dir` and checks a failure whose last line contains every `phrase`,
    /// and that `dir` holds nothing but params.json afterwards.
    private func expectFailure(_ stage: String, _ dir: String, extra: [String] = [], _ phrases: [String],
                               environment: [String: String] = [:], timeout: Int? = nil,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try TestSupport.stage(stage, ["--model-dir", dir] + extra, environment: environment, timeout: timeout)
        XCTAssertNotEqual(r.status, 0, "expected failure: \(r.output)", file: file, line: line)
        XCTAssertGreaterThan(r.status, 0, "a crash, not an error: \(r.output)", file: file, line: line)
        let message = r.output.split(separator: "\n").last.map(String.init) ?? ""
        for p in phrases { XCTAssert(message.contains(p), "'\(p)' not in: \(message)", file: file, line: line) }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        XCTAssert(left.allSatisfy { ["params.json", "train.log", RunLock.fileName].contains($0) }, "half-written outputs: \(left)", file: file, line: line)
        XCTAssertFalse(left.contains { $0.hasSuffix(".h5") }, file: file, line: line)
    }

    /// Runs a student in `dir` in this process (the stage's library call) and checks the same
    /// as `expectFailure`: an error whose text contains every `phrase`, and nothing written.
    private func expectRefusal(_ dir: String, _ phrases: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            try StudentRun.run(modelDir: dir)
            XCTFail("expected a refusal", file: file, line: line)
        } catch {
            let message = "\(error)"
            XCTAssertFalse(message.contains("\n"), "not one line: \(message)", file: file, line: line)
            for p in phrases { XCTAssert(message.contains(p), "'\(p)' not in: \(message)", file: file, line: line) }
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        XCTAssert(left.allSatisfy { ["params.json", "train.log", RunLock.fileName].contains($0) }, "half-written outputs: \(left)", file: file, line: line)
    }

    // MARK: - params.json

    func testParamsErrorsNameTheFileAndKey() throws {
        let cases: [([String: Any], [String])] = [
            (["lerning_rate": 0.1], ["params.json", "unknown key 'lerning_rate'", "did you mean 'learning_rate'"]),
            (["temperature": 0], ["params.json", "key 'temperature'", "0 is outside [0.01, 10000]"]),
            (["temperature": 1e-30], ["params.json", "key 'temperature'", "1e-30 is outside [0.01, 10000]"]),
            (["lr_milestones": [30, 0]], ["params.json", "key 'lr_milestones': [30, 0] must be increasing, each from 1 to 100000"]),
            (["alpha": 1.5], ["params.json", "key 'alpha'", "1.5 is outside [0, 1]"]),
            (["batch_size": 0], ["params.json", "key 'batch_size'", "0 is outside [1"]),
            (["learning_rate": "fast"], ["params.json", "key 'learning_rate'", "expected a number, found a string"]),
            (["model_version": "resnet9"], ["params.json", "unknown model 'resnet9'"]),
            (["optimizer": "rmsprop"], ["params.json", "'rmsprop' is not one of sgd, adam, adamw"]),
            (["kd_method": "dkt"], ["params.json", "key 'kd_method'", "'dkt' is not one of kd, dkd"]),
            (["kd_method": "dkd", "kl_reduction": "mean"], ["params.json", "key 'kl_reduction'", "DKD averages over the batch only"]),
            (["logit_standardization": 1], ["params.json", "key 'logit_standardization'", "expected true/false"]),
            (["subset_percent": 0.001], ["params.json", "key 'subset_percent': 0.001 of the 500 training images leaves 1, fewer than the 10 classes"]),
            (["color_mode": "cmyk"], ["params.json", "key 'color_mode'", "'cmyk' is not one of rgb, grey"]),
            (["normalization_mean": [0.5]], ["params.json", "'normalization_mean' and 'normalization_std' go together"]),
            (["normalization_mean": [0.5], "normalization_std": [0.2, 0.3]], ["params.json", "key 'normalization_std': 2 values, 'normalization_mean' has 1"]),
            (["normalization_mean": [0.5, 0.5, 0.5], "normalization_std": [0.2, 0.2, 0.2]], ["params.json", "key 'normalization_mean': 3 values for images of 1 channel(s)"]),
            (["sync_batchnorm": true, "micro_batches": 2], ["params.json", "keys 'sync_batchnorm' and 'micro_batches'"]),
            (["micro_batches": 65], ["params.json", "key 'micro_batches': 65 parts of a batch of 64"]),
            (["dataset": "folder", "data_dir": "no/such/images"], ["no/such/images", "dataset folder for folder not found"]),
        ]
        // In this process, as the stage's library call: the executable's side (one line, exit
        // status 1) is the same for every error and is checked below and by the other tests.
        for (change, phrases) in cases {
            let dir = folder("params")
            try TestSupport.writeParams(dir, PipelineTests.studentParams(change))
            expectRefusal(dir, phrases)
        }
        let unknown = folder("params")
        try TestSupport.writeParams(unknown, PipelineTests.studentParams(["lerning_rate": 0.1]))
        try expectFailure("student-distill", unknown, ["params.json", "unknown key 'lerning_rate'"])
        let dir = folder("json")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("{\"alpha\": 0.5,".utf8).write(to: URL(fileURLWithPath: dir + "/params.json"))
        try expectFailure("teacher-train", dir, ["params.json", "not valid JSON"])
        try expectFailure("teacher-train", folder("absent"), ["run directory not found"])
    }

    // MARK: - Datasets

    func testMissingTruncatedAndWrongDatasetFiles() throws {
        let data = folder("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let dir = folder("run")
        try TestSupport.writeParams(dir, PipelineTests.studentParams(["alpha": 0, "data_dir": data]).filter { $0.key != "teacher_logits" })
        try expectFailure("student-distill", dir, ["train-images-idx3-ubyte", "file not found"])
        // Truncated images file.
        try SyntheticData.writeIDXFolder(data, train: 600, test: 200, rows: 12, cols: 12, gzip: false)
        let images = data + "/train-images-idx3-ubyte"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: images))
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: images))
        try expectFailure("student-distill", dir, [images, "truncated"])
        // Wrong magic number: the labels file in place of the images.
        try FileManager.default.removeItem(atPath: images)
        try FileManager.default.copyItem(atPath: data + "/train-labels-idx1-ubyte", toPath: images)
        try expectFailure("student-distill", dir, [images, "wrong IDX magic number 2049"])
        // A CIFAR-10 batch of the wrong length.
        let cifar = folder("cifar")
        try FileManager.default.createDirectory(atPath: cifar, withIntermediateDirectories: true)
        for name in CIFAR10Reader.trainFiles + CIFAR10Reader.testFiles {
            try SyntheticData.write(SyntheticData.cifarRecords(labels: [1, 2], seed: 1), to: cifar + "/" + name)
        }
        try SyntheticData.write([UInt8](repeating: 0, count: 5000), to: cifar + "/data_batch_3.bin")
        let crun = folder("cifar-run")
        try TestSupport.writeParams(crun, ["dataset": "cifar10", "data_dir": cifar, "val_size": 2, "model_version": "cnn5"])
        try expectFailure("teacher-train", crun, [cifar + "/data_batch_3.bin", "not a multiple of the 3073-byte"])
    }

    // MARK: - Logits files

    /// A copy of the teacher's logits folder with `train.h5` replaced by `mutate(original)`.
    private func logitsVariant(_ name: String, _ mutate: (inout LogitsFile) -> Void, raw: ((HDF5File) throws -> Void)? = nil) throws -> String {
        let dir = folder("logits-" + name)
        try FileManager.default.copyItem(atPath: PipelineTests.teacherDir + "/logits", toPath: dir)
        var f = try LogitsFile.read(dir + "/train.h5")
        mutate(&f)
        try FileManager.default.removeItem(atPath: dir + "/train.h5")
        try f.write(to: dir + "/train.h5")
        if let raw {
            // A rewrite that keeps the attributes' digest true, so that the check under test answers.
            let h = try HDF5File.open(dir + "/train.h5", writable: true)
            try raw(h)
            try h.setAttribute("attributes_sha256", .string(try h.attributesDigest(excluding: "attributes_sha256")))
            try h.close()
        }
        return dir
    }

    private func expectStudentRejects(_ logits: String, _ phrases: [String], params: [String: Any] = [:],
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = folder("student")
        try TestSupport.writeParams(dir, PipelineTests.studentParams(["teacher_logits": logits].merging(params) { $1 }))
        try expectFailure("student-distill", dir, phrases, file: file, line: line)
    }

    func testLogitsOfOtherDataAreRejected() throws {
        try expectStudentRejects(try logitsVariant("dataset") { $0.metadata.dataset = "fashion-mnist" }, ["train.h5", "dataset 'fashion-mnist', not 'mnist'"])
        try expectStudentRejects(try logitsVariant("split") { $0.metadata.split = .val }, ["train.h5", "'val' split, not 'train'"])
        try expectStudentRejects(try logitsVariant("fingerprint") { $0.metadata.datasetFingerprint = String(repeating: "0", count: 64) },
                                 ["train.h5", "dataset fingerprint 000000000000... does not match"])
        // Another split seed: the same files, a different hold-out.
        try expectStudentRejects(PipelineTests.teacherDir + "/logits", ["train.h5", "does not match the train split"], params: ["split_seed": 9])
        try expectStudentRejects(try logitsVariant("classes") { f in
            f.metadata.numClasses = 5
            f.logits = (0..<f.count).flatMap { r in Array(f.logits[(r * 10)..<(r * 10 + 5)]) }
        }, ["train.h5", "has 5 classes, the dataset has 10"])
        try expectStudentRejects(try logitsVariant("version", { _ in }, raw: { try $0.setAttribute("format_version", .int(5)) }),
                                 ["train.h5", "logits format_version 5, this tool reads versions 2, 3 and 4"])
        try expectStudentRejects(try logitsVariant("version1", { _ in }, raw: { try $0.setAttribute("format_version", .int(1)) }),
                                 ["train.h5", "logits format_version 1, this tool reads versions 2, 3 and 4 (written before logits carried a checksum): run teacher-export again"])
        try expectStudentRejects(try logitsVariant("nan") { $0.logits[3 * 10 + 4] = .nan }, ["train.h5", "row 3 holds a non-finite logit"])
        try expectStudentRejects(try logitsVariant("inf") { $0.logits[7 * 10] = -.infinity }, ["train.h5", "row 7 holds a non-finite logit"])
    }

    /// Rows shuffled together with their labels: caught by label agreement, never used.
    func testPermutedRowsAreCaught() throws {
        let dir = try logitsVariant("permuted") { f in
            var order = Array(0..<f.count)
            var rng = SeededRNG(seed: 5)
            rng.shuffle(&order)
            f.labels = order.map { f.labels[$0] }
            f.logits = order.flatMap { r in Array(f.logits[(r * 10)..<(r * 10 + 10)]) }
        }
        try expectStudentRejects(dir, ["train.h5", "has label", "rows out of order"])
    }

    /// A cache that is not the teacher's output for these samples, though its labels and
    /// indices still match the data: rows rewritten with the old checksum kept, or rewritten
    /// consistently (checksum and all) but no longer giving the recorded teacher accuracy.
    func testLogitsChangedAfterExportAreRejected() throws {
        let original = try LogitsFile.read(PipelineTests.teacherDir + "/logits/train.h5")
        let reversedRows: (inout LogitsFile) -> Void = { f in
            f.logits = (0..<f.count).reversed().flatMap { r in Array(f.logits[(r * 10)..<(r * 10 + 10)]) }
        }
        var probe = original
        reversedRows(&probe)
        XCTAssertNotEqual(Predictions.accuracy(logits: probe.logits, labels: probe.labels, classes: 10), original.metadata.teacherAccuracy,
                          "the fixture must make reversed rows change the accuracy")
        let stale = try logitsVariant("stale-checksum", reversedRows,
                                      raw: { try $0.setAttribute("logits_sha256", .string(LogitsFile.checksum(original.logits))) })
        try expectStudentRejects(stale, ["train.h5", "'logits' does not match the checksum written at export"])
        try expectStudentRejects(try logitsVariant("rewritten", reversedRows),
                                 ["train.h5", "the rows give teacher accuracy", "rows changed after export"])
        try expectStudentRejects(try logitsVariant("replaced") { f in f.logits = f.logits.map { -$0 } },
                                 ["train.h5", "rows changed after export"])
    }

    // MARK: - Damaged files

    /// Tests/Fixtures/damaged-files (copied from the issue that found them; its README says what
    /// each did): logits files of this fixture's kind of run with a few bytes flipped or
    /// overwritten, which crashed or hung the HDF5 library inside the student, or trained. Each is
    /// now one line naming the file, calling it damaged, with an exit status and no signal, in
    /// seconds (the probe's limit for a hang is set to 3 s here; the default is 5 s).
    func testDamagedLogitsFilesAreRefused() throws {
        let fixtures = TestSupport.fixtures + "/damaged-files"
        let names = try FileManager.default.contentsOfDirectory(atPath: fixtures).filter { !$0.hasSuffix(".md") }.sorted()
        XCTAssertEqual(names.count, 9, "\(names)")
        for name in names {
            let logits = folder("fixture-" + name)  // no "damaged" in the path: the message must say it
            try FileManager.default.copyItem(atPath: PipelineTests.teacherDir + "/logits", toPath: logits)
            try FileManager.default.removeItem(atPath: logits + "/train.h5")
            try FileManager.default.copyItem(atPath: fixtures + "/" + name + "/train.h5", toPath: logits + "/train.h5")
            let dir = folder("student")
            try TestSupport.writeParams(dir, PipelineTests.studentParams(["teacher_logits": logits]))
            let start = Date()
            try expectFailure("student-distill", dir, extra: [], [logits + "/train.h5: ", "damaged"],
                              environment: [HDF5Probe.environmentVariable: "3"], timeout: 60)
            XCTAssertLessThan(Date().timeIntervalSince(start), 20, name)
        }
    }

    /// An attribute changed after export (a name, the normalization) is refused by the digest of
    /// every attribute; a file of format 2 (no digest) is still read, and an attribute that is not
    /// text refused there.
    func testDamagedAttributesAreRefused() throws {
        let changed = try logitsVariant("attribute", { _ in })
        let h = try HDF5File.open(changed + "/train.h5", writable: true)
        try h.setAttribute("normalization", .string("mean=[0.2] std=[0.3]"))
        try h.close()
        try expectStudentRejects(changed, [changed + "/train.h5", "attributes do not match the checksum written at export (attributes_sha256)"])

        let version2 = try logitsVariant("version2", { _ in })
        let old = try HDF5File.open(version2 + "/train.h5", writable: true)
        try old.removeAttribute("attributes_sha256")
        try old.setAttribute("format_version", .int(2))
        try old.close()
        XCTAssertEqual(try LogitsFile.read(version2 + "/train.h5").metadata, try LogitsFile.read(PipelineTests.teacherDir + "/logits/train.h5").metadata)
        let garbled = try HDF5File.open(version2 + "/train.h5", writable: true)
        try garbled.setAttribute("normalization", .string("mean=[0.1\u{17}78151] std=[0.3]"))
        try garbled.close()
        try expectStudentRejects(version2, [version2 + "/train.h5", "attribute 'normalization' of '/' is not text: the file is damaged"])
    }

    /// A temperature so small that the soft labels are one-hot trains, with a warning that says
    /// so. The fixture's teacher is barely trained, so its logits are scaled up to a confident
    /// teacher's (the same arg-max, so the same recorded accuracy).
    func testTinyTemperatureWarns() throws {
        let confident = try logitsVariant("confident") { f in f.logits = f.logits.map { $0 * 100 } }
        for (temperature, warns) in [(0.01, true), (4.0, false)] {
            let dir = folder("temperature")
            try TestSupport.writeParams(dir, PipelineTests.studentParams(["temperature": temperature, "num_epochs": 1, "teacher_logits": confident]))
            let r = try TestSupport.stage("student-distill", ["--model-dir", dir])
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssertEqual(r.output.contains("warning: at temperature \(temperature) the teacher's softened outputs are one-hot in float32 for "), warns, r.output)
        }
    }

    func testAlphaWithoutLogitsIsAnError() throws {
        let dir = folder("nologits")
        try TestSupport.writeParams(dir, PipelineTests.studentParams().filter { $0.key != "teacher_logits" })
        try expectFailure("student-distill", dir, ["params.json", "key 'alpha' is 0.9 but no teacher logits"])
        let missing = folder("missing-logits")
        try FileManager.default.createDirectory(atPath: missing, withIntermediateDirectories: true)
        try expectStudentRejects(missing, [missing + "/train.h5", "file not found (run teacher-export first)"])
    }

    // MARK: - Checkpoints and outputs

    func testCheckpointOfAnotherArchitectureAndCorruptCheckpoints() throws {
        let dir = folder("arch")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: PipelineTests.teacherDir + "/best.h5", toPath: dir + "/best.h5")
        try TestSupport.writeParams(dir, PipelineTests.baseParams(["model_version": "resnet14"]))
        let r = try TestSupport.stage("teacher-export", ["--model-dir", dir])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssert(r.output.contains(dir + "/best.h5: ") && r.output.contains("another architecture"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/logits"))
        try SyntheticData.write([UInt8](repeating: 9, count: 2048), to: dir + "/best.h5")
        let c = try TestSupport.stage("teacher-export", ["--model-dir", dir])
        XCTAssertEqual(c.status, 1, c.output)
        XCTAssert(c.output.contains(dir + "/best.h5: not an HDF5 file"), c.output)
        let m = try TestSupport.stage("teacher-export", ["--model-dir", dir, "--checkpoint", "last"])
        XCTAssert(m.output.contains(dir + "/last.h5: file not found"), m.output)
        // An HDF5 file whose metadata crashes the HDF5 library (a damaged-files fixture).
        try FileManager.default.removeItem(atPath: dir + "/best.h5")
        try FileManager.default.copyItem(atPath: TestSupport.fixtures + "/damaged-files/3243-logits-copy/train.h5", toPath: dir + "/best.h5")
        let d = try TestSupport.stage("teacher-export", ["--model-dir", dir])
        XCTAssertEqual(d.status, 1, d.output)
        XCTAssert(d.output.contains(dir + "/best.h5: damaged (the HDF5 library failed reading it: signal 11"), d.output)
    }

    /// Resuming with another optimizer would apply Adam moments to SGD (or none at all).
    func testResumeWithAnotherOptimizerIsRefused() throws {
        let dir = folder("optimizer")
        try TestSupport.writeParams(dir, PipelineTests.studentParams(["alpha": 0, "num_epochs": 1]).filter { $0.key != "teacher_logits" })
        XCTAssertEqual(try TestSupport.stage("student-distill", ["--model-dir", dir]).status, 0)
        try TestSupport.writeParams(dir, PipelineTests.studentParams(["alpha": 0, "num_epochs": 2, "optimizer": "sgd"]).filter { $0.key != "teacher_logits" })
        let r = try TestSupport.stage("student-distill", ["--model-dir", dir, "--restore-file", "last"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssert(r.output.contains(dir + "/last.h5: was trained with optimizer 'adam', params.json now asks for 'sgd'"), r.output)
        XCTAssertEqual(try Checkpoint.peekEpoch(dir + "/last.h5"), 1, "the checkpoint is untouched")
    }

    /// A flipped byte in a checkpoint is caught by HDF5's fletcher32 checksum, not exported as
    /// wrong logits.
    func testFlippedCheckpointByteIsAnError() throws {
        let dir = folder("flipped")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try TestSupport.writeParams(dir, PipelineTests.baseParams(["model_version": "resnet8"]))
        try FileManager.default.copyItem(atPath: PipelineTests.teacherDir + "/best.h5", toPath: dir + "/best.h5")
        let f = try HDF5File.open(dir + "/best.h5")
        let name = try f.children().first { (try? f.shape(of: $0).count) == 4 }!  // a convolution's weights
        let head = Array(try f.read(name, as: Float.self).values.prefix(4))
        try f.close()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/best.h5")))
        let pattern = head.withUnsafeBytes { [UInt8]($0) }
        let at = try XCTUnwrap((0...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) },
                               "weights of '\(name)' not found in the file")
        bytes[at + 1] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/best.h5"))
        let r = try TestSupport.stage("teacher-export", ["--model-dir", dir])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssert(r.output.contains(dir + "/best.h5: cannot read dataset '\(name)': corrupt"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/logits/train.h5"))
    }

    /// A tensor changed with a valid fletcher32 (rewritten, as h5py would) is refused by the
    /// checkpoint's state_dict_sha256; a version-1 checkpoint (no digest) still loads.
    func testChangedCheckpointTensorIsRefused() throws {
        let dir = folder("tensor")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try TestSupport.writeParams(dir, PipelineTests.baseParams(["model_version": "resnet8"]))
        try FileManager.default.copyItem(atPath: PipelineTests.teacherDir + "/best.h5", toPath: dir + "/best.h5")
        let f = try HDF5File.open(dir + "/best.h5", writable: true)
        var bias = try f.read("bn1.bias", as: Float.self)
        bias.values[0] += 0.001
        try f.remove("bn1.bias")
        try f.write("bn1.bias", bias.values, shape: bias.shape)
        try f.close()
        let r = try TestSupport.stage("teacher-export", ["--model-dir", dir, "--splits", "val"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssert(r.output.contains(dir + "/best.h5: its tensors do not match the checksum written with them (state_dict_sha256)"), r.output)

        let old = try HDF5File.open(dir + "/best.h5", writable: true)
        try old.removeAttribute("state_dict_sha256")
        try old.setAttribute("format_version", .int(1))
        try old.close()
        let v1 = try TestSupport.stage("teacher-export", ["--model-dir", dir, "--splits", "val"])
        XCTAssertEqual(v1.status, 0, v1.output)
    }

    /// Two runs in one directory: the second is refused with the holder's process id while the
    /// first runs, and a lock file left by a killed run (no process holds it) never blocks.
    func testSecondRunInTheSameDirectoryIsRefused() throws {
        let dir = folder("locked")
        try TestSupport.writeParams(dir, PipelineTests.studentParams(["alpha": 0, "num_epochs": 1]).filter { $0.key != "teacher_logits" })
        do {
            let held = try RunLock(dir)
            let r = try TestSupport.stage("student-distill", ["--model-dir", dir])
            XCTAssertEqual(r.status, 1, r.output)
            XCTAssert(r.output.contains(dir + ": is in use by another run (process \(getpid()))"), r.output)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/last.h5"))
            withExtendedLifetime(held) {}
        }
        try "12345\n".write(toFile: dir + "/" + RunLock.fileName, atomically: true, encoding: .utf8)  // stale
        let r = try TestSupport.stage("student-distill", ["--model-dir", dir])
        XCTAssertEqual(r.status, 0, r.output)
    }

    /// A full disk while writing a checkpoint: exit 1 with one line naming the final file, the
    /// previous checkpoint intact, no temporary left. On a 3 MiB tmpfs where the test may mount
    /// one (root, as in CI); elsewhere with a file-size limit (`ulimit -f`), which fails the
    /// same write with "File too large".
    func testFullDiskKeepsThePreviousCheckpoint() throws {
        let mountPoint = folder("tmpfs")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = (try? TestSupport.run("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mountPoint]).status) == 0
        if mounted { addTeardownBlock { _ = try? TestSupport.run("umount", [mountPoint]) } }
        let dir = mountPoint + "/run"
        let params = PipelineTests.studentParams(["alpha": 0, "num_epochs": 1]).filter { $0.key != "teacher_logits" }
        try TestSupport.writeParams(dir, params)
        XCTAssertEqual(try TestSupport.stage("student-distill", ["--model-dir", dir]).status, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/last.h5"))
        try TestSupport.writeParams(dir, params.merging(["num_epochs": 2]) { $1 })
        let exe = TestSupport.productsFolder.appendingPathComponent("student-distill").path
        let r: (status: Int32, output: String)
        if mounted {
            // Fill the disk, leaving less room than a checkpoint needs.
            let free = try XCTUnwrap(try FileManager.default.attributesOfFileSystem(forPath: dir)[.systemFreeSize] as? Int)
            try Data(count: max(0, free - 16 * 1024)).write(to: URL(fileURLWithPath: mountPoint + "/filler"))
            r = try TestSupport.run(exe, ["--model-dir", dir, "--restore-file", "last"])
        } else {
            let kib = before.count / 1024 / 2
            r = try TestSupport.run("sh", ["-c", "ulimit -f \(kib); trap '' XFSZ; exec \(exe) --model-dir \(dir) --restore-file last"])
        }
        XCTAssertEqual(r.status, 1, "an error, not a crash: \(r.output)")
        let message = r.output.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssert(message.contains(dir + "/last.h5: ") || message.contains(dir + "/best.h5: "), message)
        XCTAssert(message.contains(mounted ? "No space left on device" : "File too large"), message)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/last.h5")), before, "the previous checkpoint is intact")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir)
        XCTAssertFalse(left.contains { $0.hasSuffix(".tmp") }, "temporary files left: \(left)")
    }

    func testUnwritableOutputFolder() throws {
        let blocker = folder("blocker")
        try Data("a file, not a folder".utf8).write(to: URL(fileURLWithPath: blocker))
        let r = try TestSupport.stage("teacher-export", ["--model-dir", PipelineTests.teacherDir, "--out", blocker + "/logits"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssert(r.output.contains(blocker + "/logits: cannot create the output folder"), r.output)
    }
}
