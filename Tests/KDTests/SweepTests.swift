import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import KDTestSupport
import XCTest
import Engine
import Pipeline

final class SweepTests: XCTestCase {
    private func writeJSON(_ object: Any, _ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
    }

    /// A real sweep on the synthetic data, killed (SIGKILL) in the middle of its first point's
    /// second epoch: the rerun resumes that point from its last.h5 and runs the rest; a third
    /// run skips the finished points and redoes a removed one. The teacher's files stay as they
    /// are: the sweep reads its cached logits and never runs it.
    func testSweepResumesAKilledPointAndSkipsFinishedOnes() throws {
        PipelineTests.setUp()
        if let e = PipelineTests.setUpError { XCTFail(e); return }
        let dir = PipelineTests.root + "/sweep-" + UUID().uuidString.prefix(8)
        var base = PipelineTests.studentParams(["num_epochs": 2])
        for k in ["alpha", "temperature", "seed"] { base.removeValue(forKey: k) }
        try writeJSON(["base": base, "grid": ["temperature": [1, 4], "alpha": [0.9], "seed": [1, 2]], "scratch": true], dir + "/sweep.json")
        let teacherFiles = try teacherModificationDates()
        let killed = try TestSupport.stage("student-distill", ["sweep", dir], environment: ["KD_TEST_KILL_AFTER_BATCHES": "11"])
        XCTAssertEqual(killed.status, -9, "expected SIGKILL: \(killed.output)")
        let children = ["alpha_0.9_T_1_seed_1", "alpha_0.9_T_1_seed_2", "alpha_0.9_T_4_seed_1", "alpha_0.9_T_4_seed_2", "scratch_seed_1", "scratch_seed_2"]
        let started = children.filter { FileManager.default.fileExists(atPath: "\(dir)/\($0)/last.h5") }
        XCTAssertEqual(started.count, 1, "one point started before the kill: \(started)")
        let interrupted = try XCTUnwrap(started.first)
        XCTAssertEqual(try Checkpoint.peekEpoch("\(dir)/\(interrupted)/last.h5"), 1, "killed in epoch 2")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/\(interrupted)/metrics_test_best_weights.json"))

        let second = try TestSupport.stage("student-distill", ["sweep", dir])
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssert(second.output.contains("6 runs trained, 0 already finished"), second.output)
        XCTAssert(second.output.contains("\(interrupted): resuming"), second.output)
        XCTAssert(try String(contentsOfFile: "\(dir)/\(interrupted)/train.log", encoding: .utf8).contains("after epoch 1"), "resumed after epoch 1")
        for c in children {
            XCTAssert(FileManager.default.fileExists(atPath: "\(dir)/\(c)/metrics_test_best_weights.json"), c)
            XCTAssertEqual(try Checkpoint.peekEpoch("\(dir)/\(c)/last.h5"), 2, c)
        }
        let params = try Params.load(dir + "/alpha_0.9_T_4_seed_2/params.json")
        XCTAssertEqual(params.alpha, 0.9); XCTAssertEqual(params.temperature, 4); XCTAssertEqual(params.seed, 2)
        XCTAssertNil(try Params.load(dir + "/scratch_seed_1/params.json").teacherLogits)

        try FileManager.default.removeItem(atPath: dir + "/scratch_seed_2")
        let third = try TestSupport.stage("student-distill", ["sweep", dir])
        XCTAssertEqual(third.status, 0, third.output)
        XCTAssert(third.output.contains("1 runs trained, 5 already finished"), third.output)
        XCTAssert(third.output.contains("scratch_seed_2: training"), third.output)
        XCTAssertEqual(try teacherModificationDates(), teacherFiles, "the sweep touched the teacher's files")
        let results = try TestSupport.stage("student-distill", ["results", dir])
        XCTAssertEqual(results.status, 0, results.output)
        for f in ["results.md", "results.csv", "heatmap.svg", "curves.svg", "report.html"] { XCTAssert(FileManager.default.fileExists(atPath: dir + "/" + f), f) }
        let shared = ["<polyline", "Student: confusion matrix", "Teacher: confusion matrix", "Classes where student and teacher disagree most"]
        try checkReport(dir + "/report.html", ["<h1>Sweep results: ", "(chosen on val)</strong>", "Validation accuracy (%), mean over seeds"] + shared)
        // One run's page.
        let one = try TestSupport.stage("student-distill", ["results", dir + "/alpha_0.9_T_4_seed_1"])
        XCTAssertEqual(one.status, 0, one.output)
        try checkReport(dir + "/alpha_0.9_T_4_seed_1/report.html", ["<h1>Run: alpha_0.9_T_4_seed_1", "Accuracy by epoch", "Test accuracy of the best weights"] + shared)
    }

    /// report.html holds every part, runs no script, and renders in headless Chromium with no
    /// console message, its screenshot showing the charts (their blue cells and curve).
    private func checkReport(_ path: String, _ parts: [String]) throws {
        let html = try String(contentsOfFile: path, encoding: .utf8)
        for part in parts { XCTAssert(html.contains(part), "\(path) lacks '\(part)'") }
        XCTAssertFalse(html.contains("<script") || html.contains("src=") || html.contains("href="), "not self-contained")
        guard TestSupport.has("chromium") else { throw XCTSkip("Debian's chromium is not installed (make test installs it)") }
        let png = (path as NSString).deletingLastPathComponent + "/report.png"
        let r = try TestSupport.run("timeout", ["120", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                                "--enable-logging=stderr", "--v=0", "--window-size=1300,1900",
                                                "--screenshot=" + png, "file://" + path])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertFalse(r.output.contains(":CONSOLE("), "console messages: \(r.output)")
        let shot = try ImageDecoder.decode(png)
        XCTAssertEqual([shot.width, shot.height], [1300, 1900])
        var inked = 0, chartBlue = 0, curveBlue = 0
        for i in stride(from: 0, to: shot.pixels.count, by: 3) {
            let (r, g, b) = (Int(shot.pixels[i]), Int(shot.pixels[i + 1]), Int(shot.pixels[i + 2]))
            if r < 240 || g < 240 || b < 240 { inked += 1 }
            if b > 240 && r < 200 && abs(r - g) < 30 { chartBlue += 1 }  // heat map and confusion cells
            if abs(r - 31) < 30 && abs(g - 119) < 30 && abs(b - 180) < 30 { curveBlue += 1 }  // the KD curve
        }
        let pixels = shot.width * shot.height
        XCTAssertGreaterThan(Double(inked) / Double(pixels), 0.02, "the screenshot is nearly blank")
        XCTAssertGreaterThan(chartBlue, 2000, "no chart cells in the screenshot")
        XCTAssertGreaterThan(curveBlue, 100, "no learning curve in the screenshot")
        if html.contains("<h1>Sweep results"), let keep = ProcessInfo.processInfo.environment["KD_REPORT_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: png, toPath: keep)
        }
    }

    /// Every file under the shared teacher's run directory with its modification date.
    private func teacherModificationDates() throws -> [String: Date] {
        let root = PipelineTests.teacherDir
        var dates: [String: Date] = [:]
        for f in FileManager.default.subpaths(atPath: root) ?? [] {
            dates[f] = try FileManager.default.attributesOfItem(atPath: root + "/" + f)[.modificationDate] as? Date
        }
        XCTAssertFalse(dates.isEmpty)
        return dates
    }

    /// Hand-written metrics: the table's means, standard deviations, choice, verdict and cost.
    func testResultsArithmeticChoiceVerdictAndPictures() throws {
        let dir = try TestSupport.temporaryFolder(self)
        try writeJSON(["seconds": 10.0, "images_per_s": 1000.0, "images": 10000, "checkpoint": "best.h5", "checkpoint_sha256": "0"], dir + "/logits/export.json")
        try writeJSON(["base": ["model_version": "cnn5", "teacher_logits": "logits"],
                       "grid": ["temperature": [2, 4], "alpha": [0.9], "seed": [1, 2, 3]], "scratch": true], dir + "/sweep.json")
        func run(_ name: String, val: Double, test: Double, agreement: Double?, curve: [Double]) throws {
            var v: [String: Any] = ["accuracy": val, "loss": 0.5, "epoch": 2, "train_accuracy": 0.9, "train_loss": 0.3]
            if let agreement { v["teacher_agreement"] = agreement - 0.05; v["kl_to_teacher"] = 1 - val }
            try writeJSON(v, "\(dir)/\(name)/metrics_val_best_weights.json")
            var t: [String: Any] = ["accuracy": test, "loss": 0.5, "wall_seconds": 30.0, "train_images": 500, "epochs": 2]
            if let agreement { t["teacher_agreement"] = agreement }
            try writeJSON(t, "\(dir)/\(name)/metrics_test_best_weights.json")
            try writeJSON(["epochs": curve.enumerated().map { ["epoch": $0.offset + 1, "val_accuracy": $0.element, "val_loss": 0.5, "train_accuracy": 0.9,
                                                               "train_loss": 0.3, "learning_rate": 0.1, "seconds": 1.0] }], "\(dir)/\(name)/history.json")
        }
        // T 4 is best on validation (mean 0.82), T 2 second (0.80); scratch 0.78.
        for (s, v) in [(1, 0.80), (2, 0.82), (3, 0.84)] { try run("alpha_0.9_T_4_seed_\(s)", val: v, test: v + 0.01, agreement: 0.9, curve: [0.7, v]) }
        for (s, v) in [(1, 0.79), (2, 0.80), (3, 0.81)] { try run("alpha_0.9_T_2_seed_\(s)", val: v, test: v, agreement: 0.8, curve: [0.7, v]) }
        for (s, v) in [(1, 0.78), (2, 0.78), (3, 0.78)] { try run("scratch_seed_\(s)", val: v, test: v - 0.01, agreement: nil, curve: [0.6, v]) }
        let r = try SweepResults(sweepDir: dir)
        XCTAssertEqual(r.rows.map(\.label), ["scratch", "alpha 0.9, T 2", "alpha 0.9, T 4"])
        XCTAssertEqual(r.chosen?.temperature, 4)
        let chosen = r.chosen!
        XCTAssertEqual(chosen.val.mean, 0.82, accuracy: 1e-12)
        XCTAssertEqual(chosen.val.std, 0.02, accuracy: 1e-12)           // sample std of .80 .82 .84
        XCTAssertEqual(chosen.test.mean, 0.83, accuracy: 1e-12)
        XCTAssertEqual(r.scratch!.test.std, 0, accuracy: 1e-12)
        // test: 0.83 +- 0.02 vs 0.77 +- 0: +6 points > 2 points of spread.
        XCTAssert(r.verdict().contains("+6.00 points"), r.verdict())
        XCTAssert(r.verdict().contains("beat scratch by more than the seed-to-seed spread"), r.verdict())
        let csv = r.csv().split(separator: "\n")
        XCTAssertEqual(csv[0], "config,alpha,temperature,runs,val_acc_mean,val_acc_std,test_acc_mean,test_acc_std,agreement_mean,agreement_std,"
                       + "val_agreement_mean,val_agreement_std,val_kl_to_teacher_mean,val_kl_to_teacher_std,wall_s_mean,wall_s_std")
        XCTAssertEqual(csv[1], "scratch,0,,3,0.78,0,0.77,0,,,,,,,30,0")
        // KL to teacher 1 - val: 0.20, 0.18, 0.16.
        XCTAssertEqual(csv[3], "kd,0.9,4,3,0.82,0.02,0.83,0.02,0.9,0,0.85,0,0.18,0.02,30,0")
        // Cost: 6 KD runs x 500 images x 2 epochs / 1000 images/s = 6 s of teacher forwards vs 10 s of export.
        let cost = try XCTUnwrap(r.cost())
        XCTAssertEqual(cost.onTheFlySeconds, 6, accuracy: 1e-9)
        try r.write()
        let md = try String(contentsOfFile: dir + "/results.md", encoding: .utf8)
        XCTAssert(md.contains("| alpha 0.9, T 4 **(chosen on val)** | 3 | 82.00 ± 2.00 | 83.00 ± 2.00 | 85.00 ± 0.00 | 0.1800 ± 0.0200 | 90.00 ± 0.00 |"), md)
        XCTAssert(md.contains("about 6 s of teacher forwards over these 6 KD runs"), md)
        for svg in ["heatmap.svg", "curves.svg"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + svg))
            let parser = XMLParser(data: data)
            XCTAssert(parser.parse(), "\(svg) is not well-formed XML: \(String(describing: parser.parserError))")
            let text = String(decoding: data, as: UTF8.self)
            XCTAssert(text.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""), svg)
        }
        let heat = try String(contentsOfFile: dir + "/heatmap.svg", encoding: .utf8)
        XCTAssert(heat.contains(">82.00*<") && heat.contains(">80.00<"), heat)
        XCTAssert(try String(contentsOfFile: dir + "/curves.svg", encoding: .utf8).contains("<polyline"), "curves drawn")
    }

    func testBadSweepFilesAreNamedErrors() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let path = dir + "/sweep.json"
        try writeJSON(["base": ["model_version": "cnn5", "alpha": 0.5], "grid": ["temperature": [1], "alpha": [0.5], "seed": [1]]], path)
        XCTAssertThrowsError(try SweepSpec.load(path)) { XCTAssertEqual("\($0)", "\(path): key 'base.alpha': set by the grid, leave it out of base") }
        try writeJSON(["base": ["model_version": "cnn5"], "grid": ["temperature": [1], "alpha": [0], "seed": [1]]], path)
        XCTAssertThrowsError(try SweepSpec.load(path)) { XCTAssert("\($0)".contains("0 is outside (0, 1]"), "\($0)") }
        try writeJSON(["base": ["model_version": "cnn5", "lr": 1], "grid": ["temperature": [1], "alpha": [0.5], "seed": [1]]], path)
        XCTAssertThrowsError(try SweepSpec.load(path)) { XCTAssert("\($0)".contains("unknown key 'lr'"), "\($0)") }
        try writeJSON(["base": ["model_version": "cnn5"], "grid": ["temperature": [], "alpha": [0.5], "seed": [1]]], path)
        XCTAssertThrowsError(try SweepSpec.load(path)) { XCTAssert("\($0)".contains("grid.temperature"), "\($0)") }
        let grid: [String: Any] = ["temperature": [1], "alpha": [0.5], "seed": [1]]
        try writeJSON(["base": ["model_version": "cnn5", "kd_method": "dkd"], "grid": grid.merging(["kd_method": ["kd"]]) { $1 }], path)
        XCTAssertThrowsError(try SweepSpec.load(path)) { XCTAssert("\($0)".contains("key 'base.kd_method': set by the grid"), "\($0)") }
        try writeJSON(["base": ["model_version": "cnn5"], "grid": grid.merging(["dkd_beta": [2]]) { $1 }], path)
        XCTAssertThrowsError(try SweepSpec.load(path)) { XCTAssert("\($0)".contains("key 'grid.dkd_beta': applies to DKD points only"), "\($0)") }
        try writeJSON(["base": ["model_version": "cnn5"], "grid": grid.merging(["kd_method": ["kd", "dtk"]]) { $1 }], path)
        XCTAssertThrowsError(try SweepSpec.load(path)) { XCTAssert("\($0)".contains("key 'grid.kd_method': expected names among kd, dkd"), "\($0)") }
        try writeJSON(["base": ["model_version": "cnn5"], "grid": grid.merging(["logit_standardization": ["yes"]]) { $1 }], path)
        XCTAssertThrowsError(try SweepSpec.load(path)) { XCTAssert("\($0)".contains("key 'grid.logit_standardization': expected true or false"), "\($0)") }
    }

    /// Agreement and KL(teacher || student) against values worked by hand.
    func testTeacherComparison() {
        let same = TeacherComparison(student: [1, 2, 3, 0, 0, 5], teacher: [1, 2, 3, 0, 0, 5], classes: 3)
        XCTAssertEqual(same, TeacherComparison(student: [1, 2, 3, 0, 0, 5], teacher: [1, 2, 3, 0, 0, 5], classes: 3))
        XCTAssertEqual(same.agreement, 1)
        XCTAssertEqual(same.klToTeacher, 0, accuracy: 1e-12)
        // Row 1: teacher (0, log 3) -> p = (1/4, 3/4); student (0, 0) -> q = (1/2, 1/2), same class? argmax 1 vs 0.
        // KL = 1/4 log(1/2) + 3/4 log(3/2). Row 2: identical rows, KL 0, same class.
        let c = TeacherComparison(student: [0, 0, 2, 1], teacher: [0, Float(log(3.0)), 2, 1], classes: 2)
        XCTAssertEqual(c.agreement, 0.5)
        XCTAssertEqual(c.klToTeacher, (0.25 * log(0.5) + 0.75 * log(1.5)) / 2, accuracy: 1e-7)
    }

    /// The attention-transfer axis: its weight names the children and reaches their params.
    func testAttentionWeightAxis() throws {
        let dir = try TestSupport.temporaryFolder(self)
        try writeJSON(["base": ["model_version": "cnn5", "teacher_logits": "logits"],
                       "grid": ["temperature": [4], "alpha": [0.9], "seed": [1], "at_weight": [0, 1000]], "scratch": false], dir + "/sweep.json")
        let spec = try SweepSpec.load(dir + "/sweep.json")
        XCTAssertEqual(spec.points.map(\.directoryName), ["at_0_alpha_0.9_T_4_seed_1", "at_1000_alpha_0.9_T_4_seed_1"])
        XCTAssertEqual(spec.points.map(\.label), ["AT 0, alpha 0.9, T 4", "AT 1000, alpha 0.9, T 4"])
        XCTAssertEqual(try Params(dictionary: spec.params(for: spec.points[1]), file: "child").atWeight, 1000)
        XCTAssertEqual(try Params(dictionary: spec.params(for: spec.points[0]), file: "child").atWeight, 0)
    }

    /// Method axes: which children exist, what their params say, and how results group them.
    func testSoftTermAxesMakeOneChildPerConfiguration() throws {
        let dir = try TestSupport.temporaryFolder(self)
        try writeJSON(["base": ["model_version": "cnn5", "teacher_logits": "logits", "dkd_warmup": 5],
                       "grid": ["temperature": [4], "alpha": [0.5], "seed": [1, 2], "kd_method": ["kd", "dkd"],
                                "logit_standardization": [false, true], "dkd_beta": [2, 8]], "scratch": true], dir + "/sweep.json")
        let spec = try SweepSpec.load(dir + "/sweep.json")
        // kd x {plain, ls} + dkd x {beta 2, beta 8} x {plain, ls} = 6 configurations, 2 seeds each, then scratch.
        XCTAssertEqual(spec.points.filter { $0.seed == 1 }.map(\.directoryName), [
            "kd_alpha_0.5_T_4_seed_1", "kd_ls_alpha_0.5_T_4_seed_1", "dkd_beta_2_alpha_0.5_T_4_seed_1",
            "dkd_beta_2_ls_alpha_0.5_T_4_seed_1", "dkd_beta_8_alpha_0.5_T_4_seed_1", "dkd_beta_8_ls_alpha_0.5_T_4_seed_1",
            "scratch_seed_1"])
        let dkd = try XCTUnwrap(spec.points.first { $0.directoryName == "dkd_beta_8_ls_alpha_0.5_T_4_seed_2" })
        let params = try Params(dictionary: spec.params(for: dkd), file: "child")
        XCTAssertEqual(params.kdMethod, .dkd)
        XCTAssertTrue(params.logitStandardization)
        XCTAssertEqual(params.dkdBeta, 8)
        XCTAssertEqual(params.dkdWarmup, 5)
        XCTAssertEqual(params.seed, 2)
        let kd = try Params(dictionary: spec.params(for: spec.points[0]), file: "child")
        XCTAssertEqual(kd.kdMethod, .kd)
        XCTAssertFalse(kd.logitStandardization)
        XCTAssertEqual(kd.dkdBeta, Params().dkdBeta)

        // Results: one row per configuration, labelled and named in the csv by its soft term.
        for point in spec.points {
            let val = 0.8 + (point.directoryName.hasPrefix("dkd_beta_8_ls") ? 0.05 : 0) + 0.01 * Double(point.seed)
            try writeJSON(["accuracy": val, "loss": 0.5, "epoch": 1, "train_accuracy": 0.9, "train_loss": 0.3],
                          "\(dir)/\(point.directoryName)/metrics_val_best_weights.json")
            try writeJSON(["accuracy": val, "loss": 0.5, "wall_seconds": 1.0, "train_images": 10, "epochs": 1],
                          "\(dir)/\(point.directoryName)/metrics_test_best_weights.json")
        }
        let r = try SweepResults(sweepDir: dir)
        XCTAssertEqual(r.rows.map(\.label), ["scratch", "KD, alpha 0.5, T 4", "KD + LS, alpha 0.5, T 4", "DKD beta 2, alpha 0.5, T 4",
                                             "DKD beta 2 + LS, alpha 0.5, T 4", "DKD beta 8, alpha 0.5, T 4", "DKD beta 8 + LS, alpha 0.5, T 4"])
        XCTAssertEqual(r.rows.map(\.runs.count), [2, 2, 2, 2, 2, 2, 2])
        XCTAssertEqual(r.chosen?.label, "DKD beta 8 + LS, alpha 0.5, T 4")
        XCTAssertEqual(r.csv().split(separator: "\n").dropFirst().map { String($0.split(separator: ",")[0]) },
                       ["scratch", "kd", "kd+ls", "dkd_beta_2", "dkd_beta_2+ls", "dkd_beta_8", "dkd_beta_8+ls"])
        try r.write()
        let heat = try String(contentsOfFile: dir + "/heatmap.svg", encoding: .utf8)
        XCTAssert(heat.contains("mean over seeds (DKD beta 8 + LS)"), heat)
    }
}
