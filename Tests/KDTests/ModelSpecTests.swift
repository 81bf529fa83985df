import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// Networks described in JSON (`model_spec`) and torchvision's MobileNetV2 against PyTorch:
/// the checkpoint this tool writes loads into the same network built by PyTorch
/// (scripts/model_spec.py, or torchvision) with `load_state_dict(strict=True)`, and one SGD
/// step from it gives the same logits and the same weights and running statistics.
final class ModelSpecTests: XCTestCase {
    static let specs = TestSupport.fixtures + "/specs"

    private func python() throws -> String {
        guard (try? TestSupport.run("/usr/bin/python3", ["-c", "import torch, torchvision, h5py"]).status) == 0 else {
            throw XCTSkip("Debian's python3-torch, python3-torchvision and python3-h5py are not installed (make test installs them)")
        }
        return "/usr/bin/python3"
    }

    static func readSpec(_ file: String) throws -> NetworkSpec {
        try ModelSpecReader.read(.string(file), file: "params.json", folder: specs)
    }

    /// `spec` with every dropout's probability 0 (the step comparison's networks have none).
    static func withoutDropout(_ spec: NetworkSpec) -> NetworkSpec {
        func strip(_ entries: [NetworkSpec.Entry]) -> [NetworkSpec.Entry] {
            entries.map { e in
                switch e.layer {
                case .dropout: return NetworkSpec.Entry(.dropout(probability: 0), name: e.name)
                case .sequential(let inner): return NetworkSpec.Entry(.sequential(strip(inner)), name: e.name)
                case let .residual(body, shortcut, relu, bodyName):
                    return NetworkSpec.Entry(.residual(body: strip(body), shortcut: shortcut.map(strip), reluAfter: relu, bodyName: bodyName), name: e.name)
                default: return e
                }
            }
        }
        var copy = spec
        copy.layers = strip(spec.layers)
        return copy
    }

    /// One SGD step (learning rate 0.1, mean cross-entropy, training mode) here and in PyTorch
    /// from the same weights; `which` is a spec file or "torchvision:NAME". Dropout masks cannot
    /// match, so the networks compared have none (the script sets PyTorch's to p = 0).
    /// Each tensor's error against PyTorch in float64 must be within `tolerance` (relative to
    /// its largest value) or 8 times PyTorch's own float32 error, whichever is larger: a deep
    /// network with batch statistics amplifies rounding, PyTorch's as much as this engine's.
    private func checkOneStep(_ model: Model, against which: String, batch: Int = 4, tolerance: Float = 1e-4) throws {
        let python = try python()
        let dir = try TestSupport.temporaryFolder(self)
        try Checkpoint.save(dir + "/start.h5", model: model, optimizer: nil, state: .init(epoch: 0, bestAccuracy: 0, bestEpoch: 0),
                            datasetFingerprint: "test")
        precondition(model.dropoutLayers.allSatisfy { $0.probability == 0 }, "dropout masks cannot match PyTorch's")
        let shape = [batch] + model.inputShape
        let x = LayerCheck.random(shape.reduce(1, *), seed: 21)
        let labels = (0..<batch).map { Int32($0 % model.numClasses) }
        let inputs = try HDF5File.create(dir + "/inputs.h5")
        try inputs.write("x", x, shape: shape)
        try inputs.write("labels", labels, shape: [batch])
        try inputs.setAttribute("learning_rate", .double(0.1))
        try inputs.close()

        let logits = model.forward(Tensor(shape: shape, values: x), mode: .train)
        var grad = [Float](repeating: 0, count: batch * model.numClasses)
        CrossEntropy.compute(logits: logits.floats, labels: labels, classes: model.numClasses, gradient: &grad)
        let ours = logits.toArray()
        model.store.zeroGrads()
        model.backward(Tensor(shape: [batch, model.numClasses], values: grad))
        Optimizer(.sgd, store: model.store, learningRate: 0.1).update()

        let r = try TestSupport.run(python, [TestSupport.root + "/scripts/model_spec.py", "step", which, "\(model.numClasses)",
                                             dir + "/start.h5", dir + "/inputs.h5", dir + "/torch.h5"])
        XCTAssertEqual(r.status, 0, r.output)
        guard r.status == 0 else { return }
        print(r.output, terminator: "")
        let exact = try HDF5File.open(dir + "/torch.h5"), single = try HDF5File.open(dir + "/torch.float32.h5")
        var worst = (ratio: 0.0 as Float, name: "")
        // Relative to the tensor's largest value, or to 1e-3 for tensors that are nearly zero
        // (the bias and running mean of a BatchNorm fed by another: rounding noise on both sides).
        func error(_ a: [Float], _ b: [Float]) -> Float {
            zip(a, b).map { abs($0 - $1) }.max()! / max(b.map(abs).max()!, 1e-3)
        }
        func check(_ name: String, _ ours: [Float]) throws {
            let reference = try exact.read(name, as: Float.self).values
            let allowed = max(tolerance, 8 * error(try single.read(name, as: Float.self).values, reference))
            let error = error(ours, reference)
            if error / allowed > worst.ratio { worst = (error / allowed, name) }
            XCTAssertLessThanOrEqual(error, allowed, "\(which) \(name): error against float64 \(error), allowed \(allowed)")
        }
        try check("logits", ours)
        for e in model.store.entries where e.kind != .counter { try check(e.name, model.store.array(e.name)!) }
        print("\(which): largest error / allowed \(worst.ratio) (\(worst.name))")
    }

    func testEveryLayerSpecMatchesPyTorch() throws {
        let model = try Self.readSpec("every_layer.json").build(inputShape: [3, 12, 12], numClasses: 5, seed: 3)
        XCTAssertEqual(model.store.entries.first?.name, "stem.0.weight")
        XCTAssert(model.store.entries.contains { $0.name == "2.conv.0.weight" } && model.store.entries.contains { $0.name == "head.weight" })
        try checkOneStep(model, against: Self.specs + "/every_layer.json")
    }

    /// The examples' networks (examples/*/networks/*.json: the food-11 StudentNet, the Medium
    /// article's Net, the Keras tutorial's two, the KD article's VGG-16) as PyTorch builds them.
    func testExampleNetworksMatchPyTorch() throws {
        let examples = TestSupport.root + "/examples"
        let cases: [(String, [Int], Int)] = [("food11/networks/student_net.json", [3, 32, 32], 11), ("medium/networks/student_net.json", [3, 16, 16], 10),
                                             ("keras/networks/teacher.json", [3, 32, 32], 10), ("keras/networks/student.json", [3, 32, 32], 10),
                                             ("kd_article/networks/vgg16.json", [3, 32, 32], 10)]
        XCTAssertEqual(Set(cases.map(\.0)), Set(try FileManager.default.subpathsOfDirectory(atPath: examples).filter { $0.contains("/networks/") }),
                       "every example network is checked")
        for (file, shape, classes) in cases {
            let spec = try ModelSpecReader.read(.string(examples + "/" + file), file: "params.json", folder: examples)
            let model = try Self.withoutDropout(spec).build(inputShape: shape, numClasses: classes, seed: 1)
            try checkOneStep(model, against: examples + "/" + file)
        }
    }

    func testTorchvisionMobileNetV2MatchesPyTorch() throws {
        XCTAssertEqual(try ModelRegistry.make("torchvision_mobilenet_v2", inputShape: [3, 32, 32], numClasses: 10).store.trainableScalarCount,
                       2_236_682)
        let model = try TorchvisionMobileNetV2.spec(dropout: 0).build(inputShape: [3, 64, 64], numClasses: 10, seed: 5)
        try checkOneStep(model, against: "torchvision:mobilenet_v2", batch: 8, tolerance: 2e-4)
    }

    /// A malformed spec is one line naming the file and the layer by its state_dict path.
    func testMalformedSpecsNameTheLayer() throws {
        let cases: [(String, String)] = [
            (#"{"layers": [{"type": "conv", "out": 8}]}"#, "layer 0 (conv): key 'kernel': missing"),
            (#"{"layers": [{"type": "sequential", "name": "cnn", "layers": [{"type": "conv", "out": 8, "kernel": 3}, {"type": "batchnorm", "epsilon": 1}]}]}"#,
             "layer cnn.1 (batchnorm): key 'epsilon': unknown key"),
            (#"{"layers": [{"type": "convolution"}]}"#, "layer 0: \"type\" must be one of"),
            (#"{"layers": [{"type": "linear", "out": "classes"}]}"#, "layer 0 (linear): needs flat features, gets [3, 8, 8]"),
            (#"{"layers": [{"type": "conv", "out": 8, "kernel": 3, "groups": 2}, {"type": "flatten"}, {"type": "linear", "out": "classes"}]}"#,
             "layer 0 (conv): 3 input and 8 output channels in 2 groups"),
            (#"{"layers": [{"type": "maxpool", "kernel": 16}, {"type": "flatten"}, {"type": "linear", "out": "classes"}]}"#,
             "layer 0 (maxpool): a 16x16 window does not fit input [3, 8, 8]"),
            (#"{"layers": [{"type": "residual", "body": [{"type": "conv", "out": 4, "kernel": 1}]}]}"#,
             "layer 0 (residual): body gives [4, 8, 8], the identity shortcut gives [3, 8, 8]"),
            (#"{"layers": [{"type": "flatten"}, {"type": "linear", "out": 7}]}"#, "the network ends in shape [7], the dataset has 5 classes"),
            (#"{"layers": [{"type": "flatten"}, {"type": "linear", "out": "five"}]}"#, "layer 1 (linear): key 'out': expected a number or \"classes\""),
        ]
        for (json, expected) in cases {
            let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
            do {
                _ = try ModelSpecReader.read(value, file: "p.json", folder: "/").build(inputShape: [3, 8, 8], numClasses: 5, seed: 0)
                XCTFail("accepted \(json)")
            } catch let e as KDError {
                XCTAssert(e.message.contains(expected), "\(e.message)\n  expected: \(expected)")
                XCTAssertFalse(e.message.contains("\n"), e.message)
            }
        }
    }
}
