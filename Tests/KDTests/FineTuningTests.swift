import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// Fine-tuning: a model started from another's checkpoint with a new head (`init_from`,
/// `reinit`), parts of it frozen (`frozen`, `trainable`). Frozen tensors, BatchNorm
/// statistics included, stay bitwise as loaded; the rest moves as PyTorch moves it with
/// `requires_grad=False` on the frozen parameters and their BatchNorms in eval mode
/// (scripts/model_spec.py finetune, in float64).
final class FineTuningTests: XCTestCase {
    static let spec = ModelSpecTests.specs + "/every_layer.json"

    /// A "pretrained" every_layer network of 7 classes with BatchNorm statistics of its own,
    /// saved; then the same network of 5 classes started from it with a fresh head.
    private func pretrainedThenNewHead(_ dir: String) throws -> Model {
        let pretrained = try ModelSpecTests.readSpec("every_layer.json").build(inputShape: [3, 12, 12], numClasses: 7, seed: 1)
        for seed in 0..<3 { _ = pretrained.forward(Tensor(shape: [6, 3, 12, 12], values: LayerCheck.random(6 * 432, seed: UInt64(seed), scale: 2)), mode: .train) }
        try Checkpoint.save(dir + "/pretrained.h5", model: pretrained, optimizer: nil, state: .init(epoch: 3, bestAccuracy: 0, bestEpoch: 0),
                            datasetFingerprint: "x")
        let model = try ModelSpecTests.readSpec("every_layer.json").build(inputShape: [3, 12, 12], numClasses: 5, seed: 2)
        let counts = try Checkpoint.initialize(model, from: dir + "/pretrained.h5", reinit: [ParameterPattern("head")])
        XCTAssertEqual(counts.fresh, 2, "head.weight and head.bias")
        XCTAssertEqual(model.store.array("stem.1.running_mean"), pretrained.store.array("stem.1.running_mean"))
        XCTAssertNotEqual(model.store.array("stem.1.running_mean"), [Float](repeating: 0, count: 8))
        return model
    }

    /// Three steps of `kind` from the same start here and in PyTorch.
    private func checkAgainstPyTorch(frozen prefixes: [String], expectPrefix: Int, _ kind: Optimizer.Kind) throws {
        guard (try? TestSupport.run("/usr/bin/python3", ["-c", "import torch, h5py"]).status) == 0 else {
            throw XCTSkip("Debian's python3-torch and python3-h5py are not installed (make test installs them)")
        }
        let dir = try TestSupport.temporaryFolder(self)
        let model = try pretrainedThenNewHead(dir)
        model.freeze { name in prefixes.contains { name.hasPrefix($0 + ".") } }
        XCTAssertEqual(model.frozenPrefix, expectPrefix)
        try Checkpoint.save(dir + "/start.h5", model: model, optimizer: nil, state: .init(epoch: 0, bestAccuracy: 0, bestEpoch: 0), datasetFingerprint: "x")
        let before = model.store.entries.map { model.store.array($0.name)! }

        let x = LayerCheck.random(8 * 432, seed: 9), labels: [Int32] = [0, 1, 2, 3, 4, 0, 1, 2]
        let inputs = try HDF5File.create(dir + "/inputs.h5")
        try inputs.write("x", x, shape: [8, 3, 12, 12])
        try inputs.write("labels", labels, shape: [8])
        try inputs.setAttribute("learning_rate", .double(0.01))
        try inputs.close()
        let optimizer = Optimizer(kind, store: model.store, learningRate: 0.01)
        if kind == .adam {
            XCTAssertEqual(optimizer.state().firstMoment.count, model.store.unfrozenScalarCount, "no optimizer state for frozen parameters")
        }
        for _ in 0..<3 {
            model.store.zeroGrads()
            let logits = model.forward(Tensor(shape: [8, 3, 12, 12], values: x), mode: .train)
            var grad = [Float](repeating: 0, count: 40)
            CrossEntropy.compute(logits: logits.floats, labels: labels, classes: 5, gradient: &grad)
            model.backward(Tensor(shape: [8, 5], values: grad))
            optimizer.update()
        }
        let r = try TestSupport.run("/usr/bin/python3", [TestSupport.root + "/scripts/model_spec.py", "finetune", Self.spec, "5", dir + "/start.h5",
                                                         dir + "/inputs.h5", dir + "/torch.h5", prefixes.joined(separator: ","), "3", kind.rawValue])
        XCTAssertEqual(r.status, 0, r.output)
        guard r.status == 0 else { return }
        let torch = try HDF5File.open(dir + "/torch.h5")
        for (e, start) in zip(model.store.entries, before) {
            let ours = model.store.array(e.name)!
            let isFrozen = prefixes.contains { e.name.hasPrefix($0 + ".") }
            if isFrozen { XCTAssertEqual(ours, start, "\(e.name) is frozen: bitwise unchanged") }
            let reference = e.kind == .counter ? try torch.read(e.name, as: Int64.self).values.map(Float.init) : try torch.read(e.name, as: Float.self).values
            LayerCheck.assertClose(ours, reference, tolerance: 1e-4, "\(e.name) after 3 \(kind) steps (frozen: \(prefixes))")
        }
    }

    /// Everything below the head frozen: the backbone runs in evaluation mode without backward.
    func testFrozenBackboneTrainsTheHeadAsPyTorch() throws {
        let everything = ["stem", "1", "2", "5", "9", "10"]
        try checkAgainstPyTorch(frozen: everything, expectPrefix: 13, .adam)
    }

    /// A frozen stem and a frozen shortcut (conv + BatchNorm) between trained layers: the
    /// gradient passes through the frozen BatchNorm's fixed affine map. SGD: Adam turns the
    /// rounding noise of gradients that are zero in exact arithmetic (a bias before a
    /// BatchNorm) into steps of the full learning rate, on both sides.
    func testFrozenLayersBetweenTrainedOnes() throws {
        try checkAgainstPyTorch(frozen: ["stem", "2.shortcut"], expectPrefix: 1, .sgd)
    }

    /// A step from kept features (copied out as plain floats, as `FrozenFeatureCache` keeps
    /// them) is the step from the images, bit for bit: logits and every gradient.
    func testStepFromKeptFrozenFeaturesEqualsTheStepFromImages() throws {
        let model = try ModelSpecTests.readSpec("every_layer.json").build(inputShape: [3, 12, 12], numClasses: 5, seed: 4)
        model.freeze { !$0.hasPrefix("head.") }
        let x = Tensor(shape: [6, 3, 12, 12], values: LayerCheck.random(6 * 432, seed: 3))
        let dy = Tensor(shape: [6, 5], values: LayerCheck.random(30, seed: 5))
        func step(_ forward: () -> Tensor) -> (logits: [Float], grads: [Float]) {
            model.store.zeroGrads()
            let logits = forward().toArray()
            model.backward(dy)
            return (logits, Array(UnsafeBufferPointer(start: model.store.grads, count: model.store.parameterCount)))
        }
        let direct = step { model.forward(x, mode: .train) }
        let features = model.frozenFeatures(x)
        let kept = Tensor(shape: features.shape, values: features.toArray())
        let cached = step { model.forward(fromFrozen: kept, mode: .train) }
        XCTAssertEqual(direct.logits, cached.logits)
        XCTAssertEqual(direct.grads, cached.grads)
        XCTAssert(direct.grads.contains { $0 != 0 })
    }

    func testPatterns() {
        let fc = ParameterPattern("fc"), glob = ParameterPattern("layer*.bn1.*")
        XCTAssert(fc.matches("fc.weight") && fc.matches("fc") && !fc.matches("fc2.weight") && !fc.matches("a.fc.weight"))
        XCTAssert(glob.matches("layer1.0.bn1.weight") && glob.matches("layer4.1.bn1.running_mean") && !glob.matches("layer1.0.bn2.weight"))
        XCTAssert(ParameterPattern("*").matches("x.y") && ParameterPattern("*weight").matches("fc.weight") && !ParameterPattern("*weight").matches("fc.bias"))
    }

    /// The stages: a teacher trained on synthetic 8x8 images with a JSON-described network,
    /// then a second run started from its best.h5 with a fresh head and only the head trained.
    /// Every other tensor of the second run's checkpoint equals the first's, bit for bit; a
    /// pattern that names nothing, or both freezing keys, is one line naming the key.
    func testStagesFineTuneFromAnotherRunsCheckpoint() throws {
        let root = try TestSupport.temporaryFolder(self)
        try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
        try SyntheticData.writeIDXFolder(root + "/data", train: 80, test: 20)
        let spec: [String: Any] = ["name": "tiny", "layers": [
            ["type": "conv", "out": 4, "kernel": 3, "padding": 1], ["type": "batchnorm"], ["type": "relu6"], ["type": "maxpool", "kernel": 2],
            ["type": "flatten"], ["type": "linear", "out": "classes", "name": "head"]]]
        let base: [String: Any] = ["dataset": "fashion-mnist", "data_dir": root + "/data", "val_size": 20, "num_epochs": 2, "batch_size": 20,
                                   "model_spec": spec, "learning_rate": 0.01]
        try TestSupport.writeParams(root + "/first", base)
        let first = try TestSupport.stage("teacher-train", ["--model-dir", root + "/first"])
        XCTAssertEqual(first.status, 0, first.output)
        try TestSupport.writeParams(root + "/second", base.merging(["init_from": "../first/best.h5", "reinit": ["head"], "trainable": ["head"]]) { $1 })
        let second = try TestSupport.stage("teacher-train", ["--model-dir", root + "/second"])
        XCTAssertEqual(second.status, 0, second.output)
        let log = try String(contentsOfFile: root + "/second/train.log", encoding: .utf8)
        XCTAssert(log.contains("Fine-tuning: 650 of 698 parameters train (trainable [\"head\"]); the first 4 top-level layers run in evaluation mode"), log)
        XCTAssert(log.contains("tensors loaded, 2 fresh (reinit [\"head\"])"), log)
        XCTAssert(log.contains("their outputs are kept in memory from the first epoch on"), log)
        let a = try HDF5File.open(root + "/first/best.h5"), b = try HDF5File.open(root + "/second/last.h5")
        for name in ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"] {
            XCTAssertEqual(try a.read(name, as: Float.self).values, try b.read(name, as: Float.self).values, name)
        }
        XCTAssertNotEqual(try a.read("head.weight", as: Float.self).values, try b.read("head.weight", as: Float.self).values)
        XCTAssertEqual(try b.read("optimizer/first_moment", as: Float.self).values.count, 650)

        for (extra, expected) in [(["trainable": ["hed"]], "key 'trainable': 'hed' matches no parameter of tiny"),
                                  (["frozen": ["0"], "trainable": ["head"]], "keys 'frozen' and 'trainable': give one of them"),
                                  (["frozen": ["*"]], "key 'frozen': no parameter is left to train")] as [([String: Any], String)] {
            try TestSupport.writeParams(root + "/bad", base.merging(extra) { $1 })
            let r = try TestSupport.stage("teacher-train", ["--model-dir", root + "/bad"])
            XCTAssertEqual(r.status, 1, r.output)
            XCTAssert(r.output.contains(expected), r.output)
            try? FileManager.default.removeItem(atPath: root + "/bad")
        }
    }

    /// The Keras write-up's alpha weighs the hard labels: `hard_label_weight` says so.
    func testHardLabelWeightIsKerasAlpha() throws {
        let p = try Params(dictionary: ["hard_label_weight": .number(0.1)], file: "p.json")
        XCTAssertEqual(p.alpha, 0.9, accuracy: 1e-12)
        XCTAssertThrowsError(try Params(dictionary: ["hard_label_weight": .number(0.1), "alpha": .number(0.9)], file: "p.json")) {
            XCTAssert("\($0)".contains("give 'alpha' or 'hard_label_weight', not both"), "\($0)")
        }
    }
}
