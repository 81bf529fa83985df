import ArgumentParser
import Foundation
import Engine
import Pipeline

@main
struct TeacherExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teacher-export",
        abstract: "Stage 2 of 3: run a trained teacher once over every split and cache its raw logits in HDF5.",
        discussion: """
        Loads the teacher checkpoint from MODEL_DIR, runs it in evaluation mode over each split \
        in canonical order without augmentation, and writes logits/<split>.h5: float32 logits \
        [N, K], int32 labels, int64 sample indices, stamped with the dataset fingerprint, so \
        student-distill can check that the logits belong to the data it trains on. Logits are \
        raw (before softmax), so any temperature can be applied later. The train split is \
        exported whole, whatever subset the teacher trained on, so students of any subset \
        find their rows.
        """
    )

    @Option(name: .long, help: "The teacher's run directory (holds params.json and its checkpoints).")
    var modelDir: String

    @Option(name: .long, help: "Which checkpoint to export: 'best' (highest validation accuracy) or 'last'.")
    var checkpoint: RestorePoint = .best

    @Option(name: .long, help: "Comma-separated splits to export, from train, val, test.")
    var splits: String = "train,val,test"

    @Option(name: .long, help: "Output folder for the logits files (default: MODEL_DIR/logits).")
    var out: String?

    func validate() throws {
        for s in splits.split(separator: ",") where SplitName(rawValue: String(s)) == nil {
            throw ValidationError("unknown split '\(s)' in --splits; use train, val and test")
        }
    }

    func run() throws {
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
        for name in splits.split(separator: ",").map(String.init) {
            let split = SplitName(rawValue: name)!
            let data = setup.splits[split]
            let t0 = Date()
            let result = Evaluator(model: model, data: data, normalization: setup.normalization).run()
            // Recorded as the rows give it, so that a student can recompute and compare it.
            let rowAccuracy = LogitsFile.accuracy(logits: result.logits, labels: data.labels.map { Int32($0) }, classes: data.numClasses)
            let meta = LogitsFile.Metadata(dataset: data.name, datasetFingerprint: data.fingerprint(), split: split,
                                           numClasses: data.numClasses, teacherModel: setup.params.modelVersion,
                                           checkpointSHA256: checkpointHash, teacherAccuracy: rowAccuracy,
                                           normalization: setup.normalization.summary)
            let path = (outDir as NSString).appendingPathComponent("\(name).h5")
            try LogitsFile(metadata: meta, logits: result.logits, labels: data.labels.map { Int32($0) }).write(to: path)
            // The accuracy printed is recomputed from what was written.
            let written = try LogitsFile.load(path, for: data, split: split)
            let accuracy = LogitsFile.accuracy(logits: written.logits, labels: written.labels, classes: data.numClasses)
            let seconds = Date().timeIntervalSince(t0)
            print(String(format: "%@: %d samples, teacher accuracy %@, %.1f s (%.0f images/s) -> %@",
                         name, data.count, percent(accuracy), seconds, Double(data.count) / max(seconds, 1e-9), path))
            exported += data.count
        }
        let seconds = Date().timeIntervalSince(started)
        try RunDirectory.writeJSON(ExportReport(seconds: seconds, images: exported, imagesPerS: Double(exported) / max(seconds, 1e-9),
                                                checkpoint: checkpointPath, checkpointSha256: checkpointHash),
                                   to: (outDir as NSString).appendingPathComponent(ExportReport.fileName))
        print(String(format: "exported %d samples in %.1f s", exported, seconds))
    }
}
