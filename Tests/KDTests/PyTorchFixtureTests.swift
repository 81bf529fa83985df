import Foundation
import KDTestSupport
import XCTest
import Engine
import Pipeline

/// The engine against PyTorch 1.13's own numbers (scripts/make_fixtures.py, Tests/Fixtures/).
final class PyTorchFixtureTests: XCTestCase {
    private func fixture(_ name: String) throws -> HDF5File { try HDF5File.open(TestSupport.fixtures + "/" + name) }

    private func floats(_ f: HDF5File, _ name: String) throws -> [Float] {
        if (try? f.read(name, as: Float.self)) != nil { return try f.read(name, as: Float.self).values }
        return try f.read(name, as: Int64.self).values.map(Float.init)
    }

    // MARK: - Models: names, shapes and parameter counts

    func testEveryModelHasPyTorchsStateDictAndParameterCount() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixtures + "/models.json"))
        let reference = try JSONSerialization.jsonObject(with: data) as! [String: [String: [String: Any]]]
        XCTAssertEqual(Set(reference.keys), Set(ModelRegistry.names), "registered models")
        for (name, byInput) in reference {
            for (input, info) in byInput {
                let shape = input.split(separator: "x").map { Int($0)! }
                let model = try ModelRegistry.make(name, inputShape: shape, numClasses: 10)
                XCTAssertEqual(model.store.trainableScalarCount, info["parameters"] as? Int, "\(name) \(input) parameter count")
                let expected = info["state_dict"] as! [String: [Int]]
                let ours = Dictionary(uniqueKeysWithValues: model.store.entries.map { ($0.name, $0.shape) })
                XCTAssertEqual(Set(ours.keys), Set(expected.keys), "\(name) \(input) state_dict keys")
                for (key, s) in expected where ours[key] != nil { XCTAssertEqual(ours[key], s, "\(name).\(key)") }
                // And it runs: one training step and an evaluation on two RGB images (ReferenceKernelTests'
                // audit runs every model's training step and evaluation on grey 28x28 images).
                guard shape == [3, 32, 32] else { continue }
                let x = Tensor(shape: [2] + shape, values: LayerCheck.random(2 * shape.reduce(1, *), seed: 1))
                let logits = model.forward(x, mode: .train)
                XCTAssertEqual(logits.shape, [2, 10], "\(name) \(input)")
                var grad = [Float](repeating: 0, count: 20)
                let loss = CrossEntropy.compute(logits: logits.floats, labels: [1, 7], classes: 10, gradient: &grad)
                XCTAssert(loss.isFinite, "\(name) \(input) loss \(loss)")
                model.backward(Tensor(shape: [2, 10], values: grad))
                // A NaN or infinity anywhere makes the sum one.
                XCTAssert(UnsafeBufferPointer(start: model.store.grads, count: model.store.parameterCount).reduce(0, +).isFinite,
                          "\(name) \(input) gradients")
                XCTAssert(model.forward(x, mode: .eval).toArray().allSatisfy(\.isFinite), "\(name) \(input) evaluation")
            }
        }
    }

    // MARK: - Layers

    private func checkLayer(_ name: String, _ make: (ModelBuilder) -> Layer, parameters: [String] = [],
                            buffers: [String] = [], tolerance: Float = 1e-4) throws {
        let f = try fixture("layers.h5")
        let b = ModelBuilder(seed: 0)
        let layer = make(b)
        b.store.finalize()
        for p in parameters { try b.store.set("l." + p, try floats(f, "\(name)/\(p)")) }
        let x = try f.read("\(name)/x", as: Float.self)
        let dy = try floats(f, "\(name)/dy")
        let r = LayerCheck.run(layer, store: b.store, x: x.values, shape: x.shape) { _ in dy }
        LayerCheck.assertClose(r.y, try floats(f, "\(name)/y"), tolerance: tolerance, "\(name) forward")
        LayerCheck.assertClose(r.dx, try floats(f, "\(name)/dx"), tolerance: tolerance, "\(name) dx")
        for p in parameters {
            LayerCheck.assertClose(b.store.gradArray("l." + p)!, try floats(f, "\(name)/\(p)_grad"), tolerance: tolerance, "\(name) d\(p)")
        }
        for buffer in buffers {
            LayerCheck.assertClose(b.store.array("l." + buffer)!, try floats(f, "\(name)/\(buffer)"), tolerance: tolerance, "\(name) \(buffer)")
        }
    }

    func testConvolutionsMatchPyTorch() throws {
        try checkLayer("conv3x3_pad1", { Conv2d($0, "l", 8, 16, kernel: 3, padding: 1) }, parameters: ["weight", "bias"])
        try checkLayer("conv3x3_stride2_nobias", { Conv2d($0, "l", 16, 32, kernel: 3, stride: 2, padding: 1, bias: false) }, parameters: ["weight"])
        try checkLayer("conv_first_layer", { Conv2d($0, "l", 1, 16, kernel: 3, padding: 1, bias: false) }, parameters: ["weight"])
        try checkLayer("conv1x1_stride2", { Conv2d($0, "l", 16, 32, kernel: 1, stride: 2, bias: false) }, parameters: ["weight"])
        try checkLayer("conv_depthwise", { Conv2d($0, "l", 16, 16, kernel: 3, padding: 1, groups: 16, bias: false) }, parameters: ["weight"])
    }

    func testBatchNormMatchesPyTorchIncludingRunningStatistics() throws {
        let buffers = ["running_mean", "running_var", "num_batches_tracked"]
        try checkLayer("batchnorm2d", { BatchNorm($0, "l", 16) }, parameters: ["weight", "bias"], buffers: buffers)
        try checkLayer("batchnorm1d", { BatchNorm($0, "l", 24) }, parameters: ["weight", "bias"], buffers: buffers)
    }

    func testLinearAndPoolingMatchPyTorch() throws {
        try checkLayer("linear", { Linear($0, "l", 40, 10) }, parameters: ["weight", "bias"])
        try checkLayer("maxpool2", { _ in Pool2d(.max, kernel: 2) })
        try checkLayer("maxpool2_odd", { _ in Pool2d(.max, kernel: 2) })
        try checkLayer("avgpool2", { _ in Pool2d(.average, kernel: 2) })
    }

    // MARK: - Losses

    func testLossesMatchPyTorchForOrdinaryAndExtremeLogits() throws {
        let f = try fixture("losses.h5")
        let labels = try f.read("labels", as: Int32.self).values
        for set in ["ordinary", "extreme"] {
            let s = try floats(f, "\(set)/student"), t = try floats(f, "\(set)/teacher")
            var grad = [Float](repeating: 0, count: s.count)
            let ce = CrossEntropy.compute(logits: s, labels: labels, classes: 10, gradient: &grad)
            let ceRef = try f.read("\(set)/ce", as: Double.self).values[0]
            XCTAssertEqual(ce, ceRef, accuracy: 1e-5 * max(1, abs(ceRef)), "\(set) CE")
            LayerCheck.assertClose(grad, try floats(f, "\(set)/ce_grad"), "\(set) CE gradient")
            for c in try f.children(of: set) where c.hasPrefix("kd_") {
                let alpha = Float(try f.doubleAttribute("alpha", of: "\(set)/\(c)"))
                let temperature = Float(try f.doubleAttribute("temperature", of: "\(set)/\(c)"))
                let reduction = DistillationLoss.KLReduction(rawValue: try f.stringAttribute("reduction", of: "\(set)/\(c)"))!
                let loss = DistillationLoss(alpha: alpha, temperature: temperature, klReduction: reduction)
                var g = [Float](repeating: 0, count: s.count)
                let v = loss.compute(student: s, teacher: t, labels: labels, classes: 10, gradient: &g)
                let ref = try f.read("\(set)/\(c)/loss", as: Double.self).values[0]
                XCTAssert(v.loss.isFinite, "\(set) \(c) not finite")
                XCTAssertEqual(v.loss, ref, accuracy: 1e-4 * max(1, abs(ref)), "\(set) \(c) loss")
                LayerCheck.assertClose(g, try floats(f, "\(set)/\(c)/grad"), "\(set) \(c) gradient")
            }
        }
    }

    /// KD and DKD, with and without logit standardisation, against the reference formulas
    /// (mdistiller's dkd_loss; the CVPR 2024 paper's normalize) in float64.
    func testLogitDistillationLossesMatchPyTorch() throws {
        let f = try fixture("logit_losses.h5")
        let labels = try f.read("labels", as: Int32.self).values
        let s = try floats(f, "student"), t = try floats(f, "teacher")
        let cases = try f.children(of: "/").filter { $0.hasPrefix("case") }
        XCTAssertEqual(cases.count, 30)
        for c in cases {
            func number(_ key: String) throws -> Float { Float(try f.doubleAttribute(key, of: c)) }
            let method = DistillationLoss.Method(rawValue: try f.stringAttribute("method", of: c))!
            let loss = DistillationLoss(alpha: try number("alpha"), temperature: try number("temperature"), method: method,
                                        standardizeLogits: try f.intAttribute("standardize", of: c) == 1,
                                        dkdTargetWeight: try number("a"), dkdNonTargetWeight: try number("b"))
            var g = [Float](repeating: 0, count: s.count)
            let v = loss.compute(student: s, teacher: t, labels: labels, classes: 10, gradient: &g, softScale: try number("scale"))
            let ref = try f.read("\(c)/loss", as: Double.self).values[0]
            let tag = "\(c) (\(method) standardize \(loss.standardizeLogits) T \(loss.temperature))"
            XCTAssertEqual(v.loss, ref, accuracy: 1e-6 * max(1, abs(ref)), "\(tag) loss")
            LayerCheck.assertClose(g, try floats(f, "\(c)/grad"), tag + " gradient")
        }
    }

    /// DIST against the authors' dist_kd.py in float64: the loss and the gradient for the
    /// student's logits, each within a relative error of 1e-4, across batch sizes (one row
    /// included), temperatures, weights and logit scales.
    func testDISTMatchesTheAuthorsLoss() throws {
        let f = try fixture("dist.h5")
        let cases = try f.children(of: "/").filter { $0.hasPrefix("case") }
        XCTAssertEqual(cases.count, 6)
        for c in cases {
            let (s, shape) = try f.read("\(c)/student", as: Float.self)
            let t = try floats(f, "\(c)/teacher"), ref = try f.read("\(c)/grad", as: Double.self).values
            func number(_ key: String) throws -> Double { try f.read("\(c)/\(key)", as: Double.self).values[0] }
            var g = [Float](repeating: 0, count: s.count)
            let loss = DIST.compute(student: s, teacher: t, rows: shape[0], classes: shape[1], temperature: try number("temperature"),
                                    beta: try number("beta"), gamma: try number("gamma"), gradient: &g)
            let expected = try number("loss")
            XCTAssertLessThan(abs(loss - expected) / abs(expected), 1e-4, "\(c) loss \(loss), expected \(expected)")
            let worst = zip(g, ref).map { abs(Double($0) - $1) }.max()!, scale = ref.map(abs).max()!
            XCTAssertLessThan(worst / scale, 1e-4, "\(c) gradient: largest error \(worst) against a largest value \(scale)")
        }
    }

    /// Attention transfer against RepDistiller's AT.py in float64: equal sizes, a larger
    /// student (pooled first) and a larger teacher (its map pooled).
    func testAttentionTransferMatchesRepDistiller() throws {
        let f = try fixture("attention.h5")
        for name in ["same", "student_larger", "teacher_larger"] {
            let (student, shape) = try f.read("\(name)/student", as: Float.self)
            let th = Int(try f.intAttribute("teacher_height", of: name))
            var g = [Float](repeating: 0, count: student.count)
            let loss = AttentionTransfer.compute(student: student, shape: shape, teacher: try floats(f, "\(name)/teacher_map"),
                                                 teacherHeight: th, teacherWidth: th, gradient: &g)
            let ref = try f.read("\(name)/loss", as: Double.self).values[0]
            XCTAssertEqual(loss, ref, accuracy: 1e-5 * abs(ref), "\(name) loss")
            LayerCheck.assertClose(g, try floats(f, "\(name)/grad"), "\(name) gradient")
        }
    }

    /// RKD against RepDistiller's RKD.py in float64, across embedding sizes (6 vs 9).
    func testRelationalKDMatchesRepDistiller() throws {
        let f = try fixture("rkd.h5")
        let (student, shape) = try f.read("student", as: Float.self)
        let (teacher, teacherShape) = try f.read("teacher", as: Float.self)
        var g = [Float](repeating: 0, count: student.count)
        let v = RelationalKD.compute(student: student, studentSize: shape[1], teacher: teacher, teacherSize: teacherShape[1],
                                     rows: shape[0], gradient: &g)
        for (name, value) in [("distance", v.distance), ("angle", v.angle), ("loss", v.loss)] {
            let ref = try f.read(name, as: Double.self).values[0]
            XCTAssertEqual(value, ref, accuracy: 1e-5 * abs(ref), name)
        }
        LayerCheck.assertClose(g, try floats(f, "grad"), "RKD gradient")
    }

    // MARK: - Training trajectories

    /// Evaluation mode (running statistics, norms folded into convolutions) against PyTorch's
    /// eval() after one training-mode forward from the same weights.
    func testEvaluationLogitsMatchPyTorch() throws {
        let f = try fixture("trajectories.h5")
        let x = try f.read("x", as: Float.self)
        for name in ["cnn5", "resnet8"] {
            let model = try ModelRegistry.make(name, inputShape: [1, 28, 28], numClasses: 10, options: ModelOptions(dropoutRate: 0))
            for entry in model.store.entries { try model.store.set(entry.name, try floats(f, "\(name)/initial/\(entry.name)")) }
            let input = Tensor(shape: x.shape, values: x.values)
            _ = model.forward(input, mode: .train)
            let eval = model.forward(input, mode: .eval).toArray()
            LayerCheck.assertClose(eval, try floats(f, "\(name)/eval_logits_after_one_forward"), "\(name) evaluation logits")
        }
    }

    /// vgg8, resnet18 and mobilenetv2 in evaluation mode against PyTorch's eval(), with weights
    /// and running statistics both sides compute from a formula (scripts/make_fixtures.py's
    /// `formula_weight`), so the fixture stays 32 KB.
    func testEvaluationLogitsOfTheLargerModelsMatchPyTorch() throws {
        let f = try fixture("eval_logits.h5")
        let x = try f.read("x", as: Float.self)
        for name in ["vgg8", "resnet18", "mobilenetv2"] {
            let model = try formulaModel(name)
            let eval = model.forward(Tensor(shape: x.shape, values: x.values), mode: .eval).toArray()
            LayerCheck.assertClose(eval, try floats(f, "\(name)/eval_logits"), "\(name) evaluation logits")
        }
    }

    /// The model with the formula weights of `formulaWeight`.
    private func formulaModel(_ name: String) throws -> Model {
        let model = try ModelRegistry.make(name, inputShape: [1, 28, 28], numClasses: 10)
        let names = Set(model.store.entries.map(\.name))
        for entry in model.store.entries where entry.kind != .counter {
            let (owner, leaf) = (String(entry.name[..<entry.name.lastIndex(of: ".")!]), String(entry.name.split(separator: ".").last!))
            let kind = ["running_mean", "running_var"].contains(leaf) ? leaf
                : names.contains(owner + ".running_mean") ? "bn_" + leaf : leaf == "bias" ? "bias" : "weight"
            try model.store.set(entry.name, Self.formulaWeight(entry.name, entry.shape, kind))
        }
        return model
    }

    /// What teacher-export --features writes: the final layer's input and each stage's
    /// attention map, against PyTorch forward hooks on `fc`/`linear` and `layer1..4`.
    func testExportedFeaturesMatchPyTorchHooks() throws {
        let f = try fixture("features.h5")
        let x = try f.read("x", as: Float.self)
        for (name, stages) in [("resnet8", 3), ("resnet18", 4)] {
            let model = try formulaModel(name)
            let input = Tensor(shape: x.shape, values: x.values)
            let (logits, features) = model.forwardWithFeatures(input)
            LayerCheck.assertClose(logits.toArray(), model.forward(input, mode: .eval).toArray(), "\(name) logits with and without features")
            LayerCheck.assertClose(features.embedding, try floats(f, "\(name)/embedding"), "\(name) embedding")
            XCTAssertEqual(features.attention.map(\.name), (1...stages).map { "stage\($0)" }, name)
            for a in features.attention {
                let path = "\(name)/attention_\(a.name)"
                XCTAssertEqual([a.channels, a.height, a.width], [Int(try f.intAttribute("channels", of: path)),
                               Int(try f.intAttribute("height", of: path)), Int(try f.intAttribute("width", of: path))], path)
                LayerCheck.assertClose(a.values, try floats(f, path), path)
            }
        }
    }

    /// scripts/make_fixtures.py's `formula_weight`, in Double then rounded to Float as there.
    static func formulaWeight(_ name: String, _ shape: [Int], _ kind: String) -> [Float] {
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
        return (0..<shape.reduce(1, *)).map { i in
            let wave = sin(2.39996 * Double(i) + 0.1 * Double(name.count))
            switch kind {
            case "running_var": return Float(1 + 0.5 * wave * wave)
            case "bn_weight": return Float(1 + 0.1 * wave)
            case "bias", "bn_bias", "running_mean": return Float(0.1 * wave)
            default: return Float(wave * (1 / Double(fanIn).squareRoot()))
            }
        }
    }

    func testTenStepsOfSGDAndAdamFollowPyTorchsLossTrajectory() throws {
        let f = try fixture("trajectories.h5")
        let x = try f.read("x", as: Float.self)
        let labels = try f.read("labels", as: Int32.self).values
        let teacher = try floats(f, "teacher")
        let kd = DistillationLoss(alpha: Float(try f.doubleAttribute("alpha")), temperature: Float(try f.doubleAttribute("temperature")))
        for name in ["cnn5", "resnet8"] {
            for optimizer in ["sgd", "adam"] {
                let model = try ModelRegistry.make(name, inputShape: [1, 28, 28], numClasses: 10, options: ModelOptions(dropoutRate: 0))
                for entry in model.store.entries { try model.store.set(entry.name, try floats(f, "\(name)/initial/\(entry.name)")) }
                let opt = optimizer == "sgd"
                    ? Optimizer(.sgd, store: model.store, learningRate: 0.05, momentum: 0.9, weightDecay: 5e-4)
                    : Optimizer(.adam, store: model.store, learningRate: 1e-3, weightDecay: 1e-4)
                let input = Tensor(shape: x.shape, values: x.values)
                let gradient = Tensor(.plain([labels.count, 10]))
                var losses: [Double] = []
                for _ in 0..<10 {
                    model.store.zeroGrads()
                    let logits = model.forward(input, mode: .train)
                    let v = teacher.withUnsafeBufferPointer {
                        kd.compute(student: logits.floats, teacher: $0.baseAddress, labels: labels, classes: 10, gradient: gradient.floats)
                    }
                    model.backward(gradient)
                    opt.update()
                    losses.append(v.loss)
                }
                let expected = try f.read("\(name)/\(optimizer)_losses", as: Double.self).values
                for (i, (a, e)) in zip(losses, expected).enumerated() {
                    XCTAssertEqual(a, e, accuracy: 1e-3 * abs(e), "\(name) \(optimizer) step \(i + 1): \(losses) vs \(expected)")
                }
                // Evaluation after the 10 steps: the weights carry the trajectory's float drift,
                // so this tolerance is looser than the one-forward check below.
                let eval = model.forward(input, mode: .eval).toArray()
                LayerCheck.assertClose(eval, try floats(f, "\(name)/\(optimizer)_eval_logits"), tolerance: 5e-3, "\(name) \(optimizer) evaluation logits")
            }
        }
    }
}
