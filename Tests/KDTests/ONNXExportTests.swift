import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// ONNX export: every registered model's evaluation graph, checked by Debian's onnx checker and
/// run by onnxruntime against this engine's own evaluation logits.
final class ONNXExportTests: XCTestCase {
    static let repoRoot = TestSupport.root

    /// The Python with onnx and onnxruntime (`make deps-onnx`), or a skip saying how to get it.
    private func python() throws -> String {
        let python = Self.repoRoot + "/.venv-onnx/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python),
              (try? TestSupport.run(python, ["-c", "import onnx, onnxruntime"]).status) == 0 else {
            throw XCTSkip("onnx and onnxruntime are not installed in .venv-onnx (make test installs them)")
        }
        return python
    }

    /// One model of each graph the exporter writes (the deeper siblings, resnet20-110, vgg11-16,
    /// resnet32x4 and torchvision_resnet34, repeat the same nodes more times), with random
    /// weights and BatchNorm statistics gathered in training mode, on a batch of 3: onnxruntime's logits equal the engine's within 1e-4,
    /// absolute for logits up to 1 in size and relative to the largest logit beyond (float32
    /// sums in another order: the deepest random networks give logits in the tens).
    func testEveryModelMatchesONNXRuntime() throws {
        let python = try python()
        let dir = try TestSupport.temporaryFolder(self)
        var manifest: [[String: Any]] = []
        for name in Self.graphKinds + ["every_layer"] {
            let shape = name == "cnn5" ? [1, 28, 28] : [3, 32, 32]
            let model = name == "every_layer"
                ? try ModelSpecTests.readSpec("every_layer.json").build(inputShape: shape, numClasses: 10, seed: 7)
                : try ModelRegistry.make(name, inputShape: shape, numClasses: 10, options: ModelOptions(seed: 7))
            // Running statistics moved towards what training gives (a few training-mode passes):
            // the initial ones (mean 0, variance 1) let a 110-layer network's activations explode.
            var rng = SeededRNG(seed: 11)
            let warmup = Tensor(.plain([8] + shape))
            for _ in 0..<3 {
                warmup.load((0..<warmup.count).map { _ in Float(rng.next() % 2000) / 1000 - 1 })
                _ = model.forward(warmup, mode: .train)
            }
            let input = Tensor(.plain([3] + shape))
            let pixels = (0..<input.count).map { _ in Float(rng.next() % 2000) / 1000 - 1 }
            input.load(pixels)
            let logits = model.forward(input, mode: .eval).toArray()
            let base = dir + "/" + name
            try ONNXFile.write(model.inferenceGraph(), to: base + ".onnx")
            try pixels.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: base + ".input")) }
            try logits.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: base + ".logits")) }
            manifest.append(["name": name, "onnx": base + ".onnx", "input": base + ".input", "input_shape": [3] + shape,
                             "logits": base + ".logits"])
        }
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
        let r = try TestSupport.run(python, [Self.repoRoot + "/scripts/check_onnx.py", dir + "/manifest.json"])
        XCTAssertEqual(r.status, 0, r.output)
        print("ONNX parity (model, max absolute error, largest logit):\n" + r.output)
        var checked = Set<String>()
        for line in r.output.split(separator: "\n") {
            let parts = line.split(separator: " ").map(String.init)
            guard parts.count >= 2, ModelRegistry.names.contains(parts[0]) || parts[0] == "every_layer" else { continue }
            checked.insert(parts[0])
            guard parts.count == 3, let error = Double(parts[1]), let scale = Double(parts[2]) else { XCTFail(String(line)); continue }
            XCTAssertLessThan(error, 1e-4 * max(1, scale), "\(parts[0]): max absolute error against the engine's logits (largest logit \(scale))")
        }
        XCTAssertEqual(checked, Set(Self.graphKinds + ["every_layer"]), r.output)
    }

    /// cnn5; CIFAR ResNets' basic blocks (resnet8), with 4x widths (resnet8x4) and with a
    /// 3x3 stem and projection shortcuts (resnet18); torchvision's stem, max pooling and basic
    /// and bottleneck blocks; VGG; MobileNetV2's depthwise inverted residuals, and torchvision's
    /// with ReLU6; and a JSON-described network with every layer a `model_spec` may hold.
    static let graphKinds = ["cnn5", "resnet8", "resnet8x4", "resnet18", "torchvision_resnet18", "torchvision_resnet50", "vgg8", "mobilenetv2",
                             "torchvision_mobilenet_v2"]

    /// The command line: `student-distill export-onnx` on a trained run writes student.onnx,
    /// which the checker accepts; a run without a checkpoint is an error naming the file.
    func testExportONNXCommand() throws {
        PipelineTests.setUp()
        if let e = PipelineTests.setUpError { XCTFail(e); throw XCTSkip("no teacher") }
        let out = try TestSupport.temporaryFolder(self) + "/teacher.onnx"
        let r = try TestSupport.stage("student-distill", ["export-onnx", "--model-dir", PipelineTests.teacherDir, "--out", out])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssert(r.output.contains("wrote " + out), r.output)
        let python = try python()
        let check = try TestSupport.run(python, ["-c", "import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print(m.graph.input[0].type.tensor_type.shape)", out])
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssert(check.output.contains("dim_param: \"batch\""), check.output)

        let empty = try TestSupport.temporaryFolder(self)
        try TestSupport.writeParams(empty, PipelineTests.studentParams())
        let missing = try TestSupport.stage("student-distill", ["export-onnx", "--model-dir", empty])
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssert(missing.output.contains("best.h5"), missing.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: empty + "/student.onnx"))
    }
}
