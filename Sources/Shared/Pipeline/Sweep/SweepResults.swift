import Engine
import Foundation

/// Collects a sweep's finished children into `results.md`, `results.csv`, `heatmap.svg`
/// (validation accuracy over T x alpha), `curves.svg` (validation curves of the
/// configuration chosen on validation against scratch) and `report.html` (all of it on one
/// page, with the chosen student's and the teacher's confusion matrices).
public struct SweepResults {
    /// One finished child run.
    public struct Run: Sendable {
        public var point: SweepSpec.Point
        public var valAccuracy: Double
        public var testAccuracy: Double
        public var agreement: Double?
        /// On validation, with the best weights (runs given the teacher's validation logits).
        public var valAgreement: Double?
        public var valKLToTeacher: Double?
        public var wallSeconds: Double
        public var trainImages: Int
        public var epochs: Int
        public var valCurve: [Double]
    }

    /// Mean and sample standard deviation (0 for one value).
    public struct Stat: Equatable, Sendable {
        public var mean: Double, std: Double, count: Int
        public init(_ xs: [Double]) {
            count = xs.count
            mean = xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count)
            let m = mean
            std = xs.count > 1 ? (xs.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(xs.count - 1)).squareRoot() : 0
        }
    }

    /// One configuration (soft term, alpha, T), or scratch, over its seeds.
    public struct Row: Sendable {
        public var configuration: SweepSpec.Point
        public var runs: [Run]
        public var alpha: Double { configuration.alpha }
        public var temperature: Double { configuration.temperature }
        public var isScratch: Bool { configuration.isScratch }
        public var val: Stat { Stat(runs.map(\.valAccuracy)) }
        public var test: Stat { Stat(runs.map(\.testAccuracy)) }
        public var agreement: Stat { Stat(runs.compactMap(\.agreement)) }
        public var valAgreement: Stat { Stat(runs.compactMap(\.valAgreement)) }
        public var valKL: Stat { Stat(runs.compactMap(\.valKLToTeacher)) }
        public var wall: Stat { Stat(runs.map(\.wallSeconds)) }
        public var label: String { configuration.label }
        /// The csv's config column: "scratch", or the soft term ("kd", "dkd", "kd+ls", "dkd_beta_8+ls", "kd+at_1000").
        public var kind: String {
            if isScratch { return "scratch" }
            let values = configuration.values
            let parts = SweepAxis.allCases.compactMap { axis in values[axis].flatMap { axis.kindPart($0) } }.joined()
            return values[.kdMethod] == nil ? "kd" + parts : parts
        }
    }

    public let sweepDir: String
    public let spec: SweepSpec
    public let rows: [Row]
    public let unfinished: [String]
    /// The KD configuration with the best mean validation accuracy.
    public var chosen: Row? { rows.filter { !$0.isScratch }.max { $0.val.mean < $1.val.mean } }
    public var scratch: Row? { rows.first { $0.isScratch } }

    public init(sweepDir: String) throws {
        self.sweepDir = sweepDir
        spec = try SweepSpec.load((sweepDir as NSString).appendingPathComponent("sweep.json"))
        var runs: [Run] = [], missing: [String] = []
        for point in spec.points {
            let run = RunDirectory((sweepDir as NSString).appendingPathComponent(point.directoryName))
            guard let val = try run.read(EpochMetrics.self, from: .valBestMetrics), let test = try run.read(TestMetrics.self, from: .testBestMetrics) else {
                missing.append(point.directoryName)
                continue
            }
            let history = try run.read(TrainingHistory.self, from: .history)?.epochs ?? []
            runs.append(Run(point: point, valAccuracy: val.accuracy, testAccuracy: test.accuracy, agreement: test.teacherAgreement,
                            valAgreement: val.teacherAgreement, valKLToTeacher: val.klToTeacher,
                            wallSeconds: test.wallSeconds ?? 0, trainImages: test.trainImages ?? 0,
                            epochs: test.epochs ?? history.count, valCurve: history.map(\.valAccuracy)))
        }
        // Scratch first, then each soft term in the spec's order, by alpha, then T.
        var grouped: [Row] = []
        for run in runs {
            if let i = grouped.firstIndex(where: { $0.configuration == run.point.configuration }) {
                grouped[i].runs.append(run)
            } else {
                grouped.append(Row(configuration: run.point.configuration, runs: [run]))
            }
        }
        var variants: [String] = []
        for row in grouped where !variants.contains(row.configuration.variant) { variants.append(row.configuration.variant) }
        func key(_ r: Row) -> (Int, Int, Double, Double) {
            (r.isScratch ? 0 : 1, variants.firstIndex(of: r.configuration.variant) ?? 0, r.alpha, r.temperature)
        }
        rows = grouped.sorted { key($0) < key($1) }
        unfinished = missing
    }

    // MARK: - Cost of the cached export against on-the-fly distillation

    /// (export seconds, teacher images/s in evaluation, teacher seconds that on-the-fly KD
    /// would have spent: one teacher forward per student batch, per epoch, per KD run).
    public func cost() -> (exportSeconds: Double, teacherImagesPerSecond: Double, onTheFlySeconds: Double)? {
        guard case .string(let logits)? = spec.base["teacher_logits"] else { return nil }
        let folder = RunDirectory.resolve(logits, relativeTo: sweepDir)
        guard let export = try? RunDirectory.readJSON(ExportReport.self, from: (folder as NSString).appendingPathComponent(ExportReport.fileName)),
              export.imagesPerS > 0 else { return nil }
        let (seconds, rate) = (export.seconds, export.imagesPerS)
        let kdImages = rows.filter { !$0.isScratch }.flatMap(\.runs).map { Double($0.trainImages * $0.epochs) }.reduce(0, +)
        return (seconds, rate, kdImages / rate)
    }

    // MARK: - Writing

    /// Writes results.md, results.csv, heatmap.svg, curves.svg and report.html (`SweepReport`)
    /// into the sweep folder.
    public func write() throws {
        func path(_ name: String) -> String { (sweepDir as NSString).appendingPathComponent(name) }
        try AtomicWrite.write(markdown(), to: path("results.md"))
        try AtomicWrite.write(csv(), to: path("results.csv"))
        try AtomicWrite.write(SVGChart.heatmap(self), to: path("heatmap.svg"))
        try AtomicWrite.write(SVGChart.curves(self), to: path("curves.svg"))
        try AtomicWrite.write(SweepReport(self).html(), to: path("report.html"))
    }

    public func csv() -> String {
        var lines = ["config,alpha,temperature,runs,val_acc_mean,val_acc_std,test_acc_mean,test_acc_std,agreement_mean,agreement_std,"
                     + "val_agreement_mean,val_agreement_std,val_kl_to_teacher_mean,val_kl_to_teacher_std,wall_s_mean,wall_s_std"]
        func pair(_ s: Stat) -> [String] { s.count > 0 ? [f(s.mean), f(s.std)] : ["", ""] }
        for r in rows {
            let cols: [String] = [r.kind, f(r.alpha), r.isScratch ? "" : f(r.temperature), String(r.runs.count),
                                  f(r.val.mean), f(r.val.std), f(r.test.mean), f(r.test.std)]
                + pair(r.agreement) + pair(r.valAgreement) + pair(r.valKL) + [f(r.wall.mean), f(r.wall.std)]
            lines.append(cols.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Six significant digits, after rounding away float noise (a std of equal values is 0).
    private func f(_ x: Double) -> String { String(format: "%.6g", (x * 1e9).rounded() / 1e9) }
    func pct(_ s: Stat) -> String { s.count == 0 ? "—" : String(format: "%.2f ± %.2f", 100 * s.mean, 100 * s.std) }

    public func markdown() -> String {
        var md = "# Sweep results: \((sweepDir as NSString).lastPathComponent)\n\n"
        md += "Accuracies in %, mean ± sample standard deviation over seeds; validation = best epoch on the validation split, "
        md += "test = the test split with those best-on-validation weights. Teacher agreement: the share of images where student "
        md += "and teacher pick the same class; KL to teacher: KL(teacher || student) at T = 1 in nats, mean over validation images. "
        md += "Written by `make results`.\n\n"
        md += "| configuration | runs | val acc | test acc | val teacher agreement | val KL to teacher | test teacher agreement | wall time (s) |\n"
        md += "|---|---:|---:|---:|---:|---:|---:|---:|\n"
        let best = chosen
        for r in rows {
            let mark = best?.configuration == r.configuration ? " **(chosen on val)**" : ""
            let kl = r.valKL.count == 0 ? "—" : String(format: "%.4f ± %.4f", r.valKL.mean, r.valKL.std)
            md += "| \(r.label)\(mark) | \(r.runs.count) | \(pct(r.val)) | \(pct(r.test)) | \(pct(r.valAgreement)) | \(kl) | \(pct(r.agreement)) | \(String(format: "%.0f ± %.0f", r.wall.mean, r.wall.std)) |\n"
        }
        if !unfinished.isEmpty { md += "\nNot finished (\(unfinished.count)): \(unfinished.joined(separator: ", "))\n" }
        md += "\n" + verdict() + "\n"
        if let c = cost() {
            md += String(format: "\n**Cost.** The teacher export ran once: %.1f s (%.0f images/s in evaluation). ", c.exportSeconds, c.teacherImagesPerSecond)
            md += String(format: "Distilling on the fly (one teacher forward per student batch, per epoch, per KD run) would have spent about %.0f s of teacher forwards over these %d KD runs, %.0fx the export.\n",
                         c.onTheFlySeconds, rows.filter { !$0.isScratch }.map(\.runs.count).reduce(0, +), c.onTheFlySeconds / max(c.exportSeconds, 1e-9))
        }
        md += "\n![validation accuracy over T x alpha](heatmap.svg)\n\n![validation curves](curves.svg)\n"
        return md
    }

    /// The plain answer: did the configuration chosen on validation beat scratch on test by
    /// more than the seed-to-seed spread (the sum of the two standard deviations)?
    public func verdict() -> String {
        guard let c = chosen, let s = scratch else { return "No comparison: the sweep needs finished KD and scratch runs." }
        let diff = c.test.mean - s.test.mean
        let spread = c.test.std + s.test.std
        let sign = diff >= 0 ? "+" : "−"
        var text = String(format: "**Chosen on validation: %@.** Its test accuracy %@ against scratch %@: %@%.2f points; the seed-to-seed spread (sum of the two standard deviations) is %.2f points. ",
                          c.label, pct(c.test), pct(s.test), sign, abs(100 * diff), 100 * spread)
        if c.runs.count < 2 || s.runs.count < 2 {
            text += "With fewer than two seeds on a side the spread is unknown, so no verdict."
        } else if diff > spread {
            text += "Distillation beat scratch by more than the seed-to-seed spread."
        } else if diff > 0 {
            text += "Distillation was ahead, but not by more than the seed-to-seed spread: not a clear win."
        } else {
            text += "Distillation did not beat scratch."
        }
        return text
    }
}
