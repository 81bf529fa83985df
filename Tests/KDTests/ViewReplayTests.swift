import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// Multi-view exports (`teacher-export --views`) and their replay by augmenting students, on
/// PipelineTests' trained teacher and synthetic data.
final class ViewReplayTests: XCTestCase {
    override func setUpWithError() throws {
        PipelineTests.setUp()  // the shared fixture; built once per process
        if let e = PipelineTests.setUpError { XCTFail(e); throw XCTSkip("no teacher") }
    }

    /// The teacher and the data it was exported on, loaded as a student's run sees them.
    private func teacher() throws -> (model: Model, setup: RunSetup) {
        let setup = try RunSetup(runDir: PipelineTests.teacherDir)
        let model = try setup.makeModel()
        try Checkpoint.load(setup.directory.path(.best), into: model)
        return (model, setup)
    }

    /// Exactness: the rows a student replays are the teacher's outputs on the very inputs the
    /// student builds for them. For every sample of several batches in three epochs, the
    /// replayed view's input goes through the teacher again; its logits and embedding must
    /// equal the cached rows (relative error < 1e-5). The same rows on the plain images differ,
    /// so the check would catch inputs that ignore the views.
    func testReplayedInputsReproduceTheCachedRows() throws {
        let dir = try PipelineTests.export(["--views", "4", "--features", "--view-seed", "9"], into: "logits-4-views")
        let (model, setup) = try teacher()
        let data = setup.splits.train
        let file = try LogitsFile.load(dir + "/train.h5", for: data, split: .train)
        let views = try XCTUnwrap(file.views)
        XCTAssertEqual(views.perSample, 4)
        XCTAssertEqual(views.seed, 9)
        XCTAssertEqual(views.augmentation, Augmentation.standard(for: data))
        XCTAssertEqual(file.logits.count, data.count * 4 * data.numClasses)
        let features = try XCTUnwrap(file.features)
        XCTAssertEqual(features.embedding.count, data.count * 4 * features.embeddingSize)
        // Views are drawn per sample: the same whatever the export's batches.
        XCTAssertEqual(views, TeacherViews(samples: data.count, perSample: 4, augmentation: .standard(for: data), imageSize: data.height, seed: 9))
        XCTAssert(views.views.contains { $0.flip } && views.views.contains { !$0.flip })
        XCTAssertGreaterThan(Set(views.views.map { $0.cropY * 10 + $0.cropX }).count, 10)
        // Val and test stay single, plain views.
        for split in [SplitName.val, .test] {
            XCTAssertNil(try LogitsFile.load(dir + "/\(split.rawValue).h5", for: setup.splits[split], split: split).views)
        }

        try checkReplayedInputs(model: model, setup: setup, file: file)
    }

    /// The transforms of the recipes (reflect padding, rotation with bilinear interpolation):
    /// a teacher whose params.json asks for them exports views with their angles, and the
    /// replayed inputs reproduce the cached rows just as exactly.
    func testReplayedRotatedViewsReproduceTheCachedRows() throws {
        let copy = try TestSupport.temporaryFolder(self) + "/teacher"
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: PipelineTests.teacherDir + "/best.h5", toPath: copy + "/best.h5")
        let data = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: PipelineTests.teacherDir + "/params.json"))) as! [String: Any]
        try TestSupport.writeParams(copy, data.merging(["crop_padding": 3, "padding_mode": "reflect", "rotation_degrees": 20,
                                                        "rotation_interpolation": "bilinear"]) { $1 })
        let r = try TestSupport.stage("teacher-export", ["--model-dir", copy, "--views", "4", "--features", "--splits", "train"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssert(r.output.contains("crop (padding 3, reflect), flips, rotation 20 degrees (bilinear)"), r.output)
        let setup = try RunSetup(runDir: copy)
        let model = try setup.makeModel()
        try Checkpoint.load(copy + "/best.h5", into: model)
        let file = try LogitsFile.load(copy + "/logits/train.h5", for: setup.splits.train, split: .train)
        let views = try XCTUnwrap(file.views)
        XCTAssertEqual(views.augmentation, setup.transform)
        XCTAssert(views.views.contains { $0.angle > 5 } && views.views.contains { $0.angle < -5 })
        try checkReplayedInputs(model: model, setup: setup, file: file)
    }

    /// For every sample of several batches in three epochs, the replayed view's input (built
    /// as a student builds it) goes through the teacher again: logits and embedding equal the
    /// cached rows, which differ from the plain images' for most samples.
    private func checkReplayedInputs(model: Model, setup: RunSetup, file: LogitsFile) throws {
        let data = setup.splits.train
        let views = try XCTUnwrap(file.views), features = try XCTUnwrap(file.features)
        let assembler = BatchAssembler(dataset: data, normalization: setup.normalization, transform: setup.transform)
        let k = data.numClasses, d = features.embeddingSize
        var compared = 0, differsFromPlain = 0, replayedViews = Set<Int>()
        for epoch in 0..<3 {
            let indices = Array(stride(from: epoch * 7, to: data.count, by: 5).prefix(64))
            let (rows, inputViews) = views.replay(indices, epoch: epoch, studentSeed: 3)
            XCTAssertEqual(rows.map { $0 / 4 }, indices, "a sample replays one of its own views")
            replayedViews.formUnion(rows.map { $0 % 4 })
            let input = Tensor(.plain([indices.count] + assembler.inputShape))
            try assembler.fill(input.floats, indices: indices, views: inputViews)
            let (logits, again) = model.forwardWithFeatures(input)
            let plain = Tensor(.plain([indices.count] + assembler.inputShape))
            try assembler.fill(plain.floats, indices: indices)
            let plainLogits = Array(UnsafeBufferPointer(start: model.forward(plain, mode: .eval).floats, count: indices.count * k))
            for (i, row) in rows.enumerated() {
                let cached = Array(file.logits[(row * k)..<((row + 1) * k)])
                let now = Array(UnsafeBufferPointer(start: logits.floats + i * k, count: k))
                XCTAssertLessThan(relativeError(now, cached), 1e-5, "epoch \(epoch), sample \(indices[i]), view \(row % 4): logits")
                let embedding = Array(again.embedding[(i * d)..<((i + 1) * d)])
                XCTAssertLessThan(relativeError(embedding, Array(features.embedding[(row * d)..<((row + 1) * d)])), 1e-5,
                                  "epoch \(epoch), sample \(indices[i]): embedding")
                if relativeError(Array(plainLogits[(i * k)..<((i + 1) * k)]), cached) > 1e-3 { differsFromPlain += 1 }
                compared += 1
            }
        }
        XCTAssertEqual(compared, 192)
        XCTAssertGreaterThan(differsFromPlain, compared / 2, "the views barely change the teacher's outputs: the check has no teeth")
        XCTAssertEqual(replayedViews, [0, 1, 2, 3], "every stored view gets replayed")
    }

    /// h5py reads a multi-view file as README documents it, and a view changed after export is
    /// caught by its checksum.
    func testH5pyReadsTheMultiViewFileAsDocumented() throws {
        guard (try? TestSupport.run("/usr/bin/python3", ["-c", "import h5py"]).status) == 0 else {
            throw XCTSkip("Debian's python3-h5py is not installed (make test installs them)")
        }
        let dir = try PipelineTests.export(["--views", "2", "--splits", "train"], into: "logits-2-views")
        let script = """
        import h5py, sys
        f = h5py.File(sys.argv[1], "r+")
        logits, views = f["logits"], f["views"]            # [N, V, K] and [N, V, 3]
        n, v, k = logits.shape
        p = f.attrs["augmentation_padding"]
        crop_y, crop_x, flip = views[0, 1]                 # sample 0, view 1
        ok = views.shape == (n, v, 3) and v == f.attrs["num_views"] and 0 <= crop_y <= 2 * p and flip in (0, 1)
        print(n, v, k, p, f.attrs["augmentation_flip"], f.attrs["view_seed"], f.attrs["augmentation"], ok)
        views[0, 1, 2] = 1 - flip
        """
        let r = try TestSupport.run("/usr/bin/python3", ["-c", script, dir + "/train.h5"])
        XCTAssertEqual(r.output.trimmingCharacters(in: .whitespacesAndNewlines), "500 2 10 2 1 0 RandomCrop(padding)+RandomHorizontalFlip True", r.output)
        XCTAssertThrowsError(try LogitsFile.read(dir + "/train.h5")) {
            XCTAssert("\($0)".contains("'views' do not match the checksum written at export (views_sha256)"), "\($0)")
        }
    }

    /// Inputs and targets that do not belong together stop the run before training, in one
    /// line naming the file and what to do.
    func testMismatchedViewsStopTheRun() throws {
        let root = try TestSupport.temporaryFolder(self)
        // Augmented inputs, plain targets, no allow_fixed_teacher.
        let fixed = root + "/fixed"
        try TestSupport.writeParams(fixed, PipelineTests.studentParams(["augmentation": true]))
        let r = try TestSupport.stage("student-distill", ["--model-dir", fixed])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssert(r.output.contains("params.json: key 'augmentation': the inputs are cropped and flipped but ") &&
                  r.output.contains("train.h5 holds the teacher's outputs on the plain images, so the targets would not match the inputs; export views to replay (teacher-export --views 8) or set 'allow_fixed_teacher': true"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixed + "/last.h5"))
        // Views, but a student that does not augment.
        let views = try PipelineTests.export(["--views", "2", "--splits", "train"], into: "logits-2-views")
        let plain = root + "/plain"
        try TestSupport.writeParams(plain, PipelineTests.studentParams(["teacher_logits": views]))
        let p = try TestSupport.stage("student-distill", ["--model-dir", plain])
        XCTAssertEqual(p.status, 1, p.output)
        XCTAssert(p.output.contains("train.h5: holds the teacher's outputs on 2 augmented views per training image (teacher-export --views), for students with 'augmentation': true"), p.output)
        // A scratch run needs no teacher, so it may augment with any export beside it.
        let scratch = root + "/scratch"
        try TestSupport.writeParams(scratch, PipelineTests.studentParams(["alpha": 0, "augmentation": true, "num_epochs": 1]))
        let s = try TestSupport.stage("student-distill", ["--model-dir", scratch])
        XCTAssertEqual(s.status, 0, s.output)
    }

    private func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        let diff = zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
        return diff / max(b.map { $0 * $0 }.reduce(0, +).squareRoot(), 1e-12)
    }
}
