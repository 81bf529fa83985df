import Engine
import Foundation

/// Stage 2 in a run directory: run the trained teacher once over each split, in canonical order
/// and evaluation mode, and write its raw logits to `<out>/<split>.h5` with export.json beside
/// them. What `teacher-export` does.
public enum TeacherExportRun {
    /// - Parameters:
    ///   - checkpoint: which of the run's checkpoints to export.
    ///   - out: the output folder (default: the run's logits/).
    ///   - features: also write the teacher's embedding and attention maps (`ModelFeatures`).
    @discardableResult
    public static func run(modelDir: String, checkpoint: RestorePoint = .best, splits: [SplitName] = SplitName.allCases,
                           out: String? = nil, features: Bool = false, say: (String) -> Void = { print($0) }) throws -> ExportReport {
        let setup = try RunSetup(runDir: modelDir)
        let model = try setup.makeModel()
        let checkpointPath = setup.directory.path(checkpoint.file)
        try Checkpoint.load(checkpointPath, into: model)
        let checkpointHash = try Checkpoint.sha256(of: checkpointPath)
        let outDir = out ?? setup.directory.path(.logits)
        do {
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        } catch {
            throw PipelineError(file: outDir, "cannot create the output folder")
        }
        let started = Date()
        var exported = 0
        for split in splits {
            let data = setup.splits[split]
            let t0 = Date()
            let result = Evaluator(model: model, data: data, normalization: setup.normalization).run(features: features)
            let labels = data.labels.map { Int32($0) }
            // Recorded as the rows give it, so that a student can recompute and compare it.
            let rowAccuracy = LogitsFile.accuracy(logits: result.logits, labels: labels, classes: data.numClasses)
            let meta = LogitsFile.Metadata(dataset: data.name, datasetFingerprint: data.fingerprint(), split: split,
                                           numClasses: data.numClasses, teacherModel: setup.params.modelVersion,
                                           checkpointSHA256: checkpointHash, teacherAccuracy: rowAccuracy,
                                           normalization: setup.normalization.summary)
            let path = (outDir as NSString).appendingPathComponent("\(split.rawValue).h5")
            try LogitsFile(metadata: meta, logits: result.logits, labels: labels, features: result.features).write(to: path)
            // Read back as a student will: load checks the rows against the data, the checksum and
            // the recorded accuracy, so the accuracy printed is what the written rows give.
            let written = try LogitsFile.load(path, for: data, split: split)
            let seconds = Date().timeIntervalSince(t0)
            say(String(format: "%@: %d samples, teacher accuracy %@, %.1f s (%.0f images/s) -> %@",
                       split.rawValue, data.count, percent(written.metadata.teacherAccuracy), seconds, Double(data.count) / max(seconds, 1e-9), path))
            if let f = written.features {
                say("  features: embedding [\(data.count), \(f.embeddingSize)]; attention " +
                    f.attention.map { "\($0.name) \($0.height)x\($0.width) (\($0.channels) channels)" }.joined(separator: ", "))
            }
            exported += data.count
        }
        let seconds = Date().timeIntervalSince(started)
        let report = ExportReport(seconds: seconds, images: exported, imagesPerS: Double(exported) / max(seconds, 1e-9),
                                  checkpoint: checkpointPath, checkpointSha256: checkpointHash)
        try RunDirectory.writeJSON(report, to: (outDir as NSString).appendingPathComponent(ExportReport.fileName))
        say(String(format: "exported %d samples in %.1f s", exported, seconds))
        return report
    }
}
