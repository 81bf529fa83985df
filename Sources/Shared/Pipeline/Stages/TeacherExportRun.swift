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
    ///   - views: augmented views per training image (`TeacherViews`); 1 exports the plain
    ///     images. Val and test are always exported plain.
    ///   - viewSeed: the seed the views are drawn from.
    ///   - overrides: `--set` keys on top of params.json (`ParamsOverrides`).
    @discardableResult
    public static func run(modelDir: String, checkpoint: RestorePoint = .best, splits: [SplitName] = SplitName.allCases,
                           out: String? = nil, features: Bool = false, views: Int = 1, viewSeed: UInt64 = 0,
                           overrides: ParamsOverrides = ParamsOverrides(), context: RunContext = RunContext(),
                           say: (String) -> Void = { print($0) }) throws -> ExportReport {
        precondition(views >= 1, "at least one view")
        let setup = try RunSetup(runDir: modelDir, overrides: overrides, context: context)
        if let line = setup.overridesLine { say(line) }
        let model = try setup.makeModel()
        let checkpointPath = setup.directory.path(checkpoint.file)
        try Checkpoint.load(checkpointPath, into: model)
        let checkpointHash = try Checkpoint.sha256(of: checkpointPath)
        let outDir = out ?? setup.directory.path(.logits)
        do {
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        } catch {
            throw KDError(file: outDir, "cannot create the output folder")
        }
        let started = Date()
        let export = SplitExport(setup: setup, model: model, checkpointSHA256: checkpointHash, outDir: outDir,
                                 features: features, views: views, viewSeed: viewSeed)
        var exported = 0
        for split in splits { exported += try export.run(split, say: say) }
        let seconds = Date().timeIntervalSince(started)
        let cluster = context.cluster
        if cluster.isDistributed && cluster.isRoot {
            say("exported by \(cluster.size) processes, each a contiguous share of every split's batches, gathered on rank 0")
        }
        let report = ExportReport(seconds: seconds, images: exported, imagesPerS: Double(exported) / max(seconds, 1e-9),
                                  checkpoint: checkpointPath, checkpointSha256: checkpointHash,
                                  viewsPerTrainImage: views)
        guard cluster.isRoot else { return report }
        try RunDirectory.writeJSON(report, to: (outDir as NSString).appendingPathComponent(ExportReport.fileName))
        say(String(format: "exported %d %@ in %.1f s", exported, views > 1 ? "images and views" : "samples", seconds))
        return report
    }

    /// One split's export: the teacher run over it (shared out under MPI), its file written and
    /// read back as a student will read it.
    private struct SplitExport {
        let setup: RunSetup, model: Model, checkpointSHA256: String, outDir: String
        let features: Bool, views: Int, viewSeed: UInt64

        /// Writes `<outDir>/<split>.h5`; returns the teacher passes it took (0 on a rank
        /// other than the root, which writes nothing).
        func run(_ split: SplitName, say: (String) -> Void) throws -> Int {
            let data = setup.splits[split], cluster = setup.context.cluster
            let t0 = Date()
            // The same augmentation as a student's `augmentation: true`, so every view is one it could draw.
            let splitViews = split == .train && views > 1
                ? TeacherViews(samples: data.count, perSample: views, augmentation: .standard(for: data), seed: viewSeed) : nil
            let evaluator = setup.evaluator(model, on: data)
            let path = (outDir as NSString).appendingPathComponent("\(split.rawValue).h5")
            func metadata() throws -> LogitsFile.Metadata {
                LogitsFile.Metadata(dataset: data.name, datasetFingerprint: try data.fingerprint(), split: split, numClasses: data.numClasses,
                                    teacherModel: setup.params.modelVersion, checkpointSHA256: checkpointSHA256,
                                    teacherAccuracy: 0, normalization: setup.normalization.summary)
            }
            if cluster.isDistributed {
                let result = try TeacherExportRun.shardedRun(evaluator, features: features, views: splitViews, cluster: cluster)
                guard cluster.isRoot else { return 0 }
                var meta = try metadata()
                // as the rows give it (arg-max against each row's label), which a student recomputes
                meta.teacherAccuracy = result.accuracy
                try LogitsFile(metadata: meta, logits: result.logits, labels: data.labels, features: result.features, views: splitViews)
                    .write(to: path)
            } else {
                try stream(evaluator, views: splitViews, metadata: try metadata(), to: path, split: split)
            }
            // Read back as a student will: load checks the rows against the data, the checksum and
            // the recorded accuracy, so the accuracy printed is what the written rows give. Rows
            // larger than the memory budget are checked from the file.
            let written = try LogitsFile.load(path, for: data, split: split, memoryBudget: setup.params.memoryBudget)
            let seconds = Date().timeIntervalSince(t0)
            let passes = data.count * written.viewsPerSample
            let what = splitViews.map { v in "\(data.count) samples x \(v.perSample) views (padding \(v.augmentation.padding), flips, seed \(v.seed)), teacher accuracy over the views" }
                ?? "\(data.count) samples, teacher accuracy"
            say(String(format: "%@: %@ %@, %.1f s (%.0f images/s) -> %@",
                       split.rawValue, what, percent(written.metadata.teacherAccuracy), seconds, Double(passes) / max(seconds, 1e-9), path))
            if let f = written.features {
                say("  features: embedding [\(data.count), \(f.embeddingSize)]; attention " +
                    f.attention.map { "\($0.name) \($0.height)x\($0.width) (\($0.channels) channels)" }.joined(separator: ", "))
            }
            return passes
        }

        /// The teacher's rows written as they are computed (`LogitsFileWriter`), under a
        /// temporary name until the last one, with a progress line every 10 seconds.
        private func stream(_ evaluator: Evaluator, views: TeacherViews?, metadata: LogitsFile.Metadata, to path: String,
                            split: SplitName) throws {
            let data = evaluator.assembler.dataset
            try AtomicWrite.write(to: path) { tmp in
                let writer = try LogitsFileWriter(path: tmp, metadata: metadata, labels: data.labels, views: views)
                let start = Date()
                var reported = start
                try evaluator.forEachBatch(features: features, views: views) { batch in
                    try writer.append(logits: batch.logits, count: batch.rows.count, features: batch.features)
                    let now = Date()
                    if now.timeIntervalSince(reported) >= 10 && batch.rows.upperBound < writer.rows {
                        reported = now
                        let rate = Double(batch.rows.upperBound) / now.timeIntervalSince(start)
                        FileHandle.standardError.write(Data(String(format: "%@: %d/%d rows (%.0f%%), %.0f images/s, about %.0f s left\n",
                            split.rawValue, batch.rows.upperBound, writer.rows, 100 * Double(batch.rows.upperBound) / Double(writer.rows),
                            rate, Double(writer.rows - batch.rows.upperBound) / rate).utf8))
                    }
                }
                try writer.finish()
            }
        }
    }

    /// One split over every process of `cluster`: each evaluates a contiguous run of whole
    /// evaluation batches (the batches a single process would run, so every row is computed as
    /// it would be alone), and rank 0 gathers the rows in order and computes the accuracy over
    /// all of them. The result is complete on rank 0 only.
    static func shardedRun(_ evaluator: Evaluator, features: Bool, views: TeacherViews?, cluster: Cluster) throws -> Evaluator.Result {
        let rows = evaluator.assembler.dataset.count * (views?.perSample ?? 1)
        let size = evaluator.batchSize
        let batches = cluster.share(of: (rows + size - 1) / size)
        var result = try evaluator.run(features: features, views: views, rowRange: min(batches.lowerBound * size, rows)..<min(batches.upperBound * size, rows))
        result.logits = cluster.gather(result.logits)
        if var f = result.features {
            f.embedding = cluster.gather(f.embedding)
            for i in f.attention.indices { f.attention[i].values = cluster.gather(f.attention[i].values) }
            result.features = f
        } else if features {
            // This process had no rows; it still takes part in the gathers, as the root expects.
            let probe = Tensor(.plain([1] + evaluator.assembler.dataset.imageShape))
            _ = cluster.gather([])
            for _ in evaluator.model.forwardWithFeatures(probe).features.attention { _ = cluster.gather([]) }
        }
        if cluster.isRoot { result.accuracy = evaluator.rowAccuracy(result.logits, perSample: views?.perSample ?? 1) }
        return result
    }
}
