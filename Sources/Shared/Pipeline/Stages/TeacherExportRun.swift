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
    ///   - encoding: how the rows are stored (`LogitsEncoding`: dense or top-k, float32 or float16).
    ///   - overrides: `--set` keys on top of params.json (`ParamsOverrides`).
    @discardableResult
    public static func run(modelDir: String, checkpoint: RestorePoint = .best, splits: [SplitName] = SplitName.allCases,
                           out: String? = nil, features: Bool = false, views: Int = 1, viewSeed: UInt64 = 0, encoding: LogitsEncoding = .dense,
                           overrides: ParamsOverrides = ParamsOverrides(), context: RunContext = RunContext(),
                           say: (String) -> Void = { print($0) }) throws -> ExportReport {
        precondition(views >= 1, "at least one view")
        let setup = try RunSetup(runDir: modelDir, overrides: overrides, context: context)
        if let line = setup.overridesLine { say(line) }
        if let k = encoding.topK, k > setup.splits.train.numClasses {
            throw KDError(file: setup.paramsPath, "--top-k \(k) is more than the dataset's \(setup.splits.train.numClasses) classes")
        }
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
                                 features: features, views: views, viewSeed: viewSeed, encoding: encoding)
        var exported = 0
        for split in splits { exported += try export.run(split, say: say) }
        let seconds = Date().timeIntervalSince(started)
        let cluster = context.cluster
        if cluster.isDistributed && cluster.isRoot {
            say("exported by \(cluster.size) processes, each writing its contiguous share of every split's rows into the one file")
        }
        let report = ExportReport(seconds: seconds, images: exported, imagesPerS: Double(exported) / max(seconds, 1e-9),
                                  checkpoint: checkpointPath, checkpointSha256: checkpointHash,
                                  viewsPerTrainImage: views, encoding: encoding.description, peakRssMib: peakResidentMiB())
        guard cluster.isRoot else { return report }
        try RunDirectory.writeJSON(report, to: (outDir as NSString).appendingPathComponent(ExportReport.fileName))
        say(String(format: "exported %d %@ in %.1f s", exported, views > 1 ? "images and views" : "samples", seconds))
        return report
    }

    /// One split's export: the teacher run over it (shared out under MPI), its file written and
    /// read back as a student will read it.
    private struct SplitExport {
        let setup: RunSetup, model: Model, checkpointSHA256: String, outDir: String
        let features: Bool, views: Int, viewSeed: UInt64, encoding: LogitsEncoding

        /// What the first process of an MPI export tells the others: the temporary file and
        /// where its rows lie.
        private struct SharedFile: Codable {
            var path: String
            var layout: LogitsRowWriter.Layout?
        }

        /// Writes `<outDir>/<split>.h5`; returns the teacher passes it took (0 on a rank
        /// other than the root, which reports nothing).
        func run(_ split: SplitName, say: (String) -> Void) throws -> Int {
            let data = setup.splits[split], cluster = setup.context.cluster
            let t0 = Date()
            // The transforms of the teacher's params.json (a student's `augmentation: true` by
            // default), which students must share: every view is one they could draw.
            let splitViews = split == .train && views > 1
                ? TeacherViews(samples: data.count, perSample: views, augmentation: setup.transform, imageSize: data.height, seed: viewSeed) : nil
            let evaluator = setup.evaluator(model, on: data)
            let path = (outDir as NSString).appendingPathComponent("\(split.rawValue).h5")
            let shapes = try featureShapes(evaluator)
            if cluster.isRoot {
                try AtomicWrite.write(to: path) { tmp in
                    try writeAsRoot(evaluator, views: splitViews, split: split, features: shapes, to: tmp)
                }
            } else {
                try writeShare(evaluator, views: splitViews)
                return 0
            }
            // Read back as a student will: load checks the rows against the data, the checksum and
            // the recorded accuracy, so the accuracy printed is what the written rows give. The
            // rows are checked a block at a time from the file, whatever their size; the features'
            // checksum was counted from the file as it was finished.
            let written = try LogitsFile.load(path, for: data, split: split, memoryBudget: 0, keepCompact: true, withFeatures: false)
            let seconds = Date().timeIntervalSince(t0)
            let passes = data.count * written.viewsPerSample
            let what = splitViews.map { v in "\(data.count) samples x \(v.perSample) views (\(v.augmentation.summary), seed \(v.seed)), teacher accuracy over the views" }
                ?? "\(data.count) samples, teacher accuracy"
            say(String(format: "%@: %@ %@, %.1f s (%.0f images/s) -> %@%@",
                       split.rawValue, what, percent(written.metadata.teacherAccuracy), seconds, Double(passes) / max(seconds, 1e-9), path,
                       encoding == .dense ? "" : " (\(encoding))"))
            if let f = shapes {
                say("  features: embedding [\(data.count), \(f.embeddingSize)]; attention " +
                    f.attention.map { "\($0.name) \($0.height)x\($0.width) (\($0.channels) channels)" }.joined(separator: ", "))
            }
            return passes
        }

        /// The first (or only) process: makes the file at `tmp`, tells the others where its rows
        /// lie, writes its own share and, once every process has written, records the checksums
        /// and the accuracy over all rows.
        private func writeAsRoot(_ evaluator: Evaluator, views: TeacherViews?, split: SplitName, features shapes: ModelFeatures?,
                                 to tmp: String) throws {
            let data = evaluator.assembler.dataset, cluster = setup.context.cluster
            let metadata = LogitsFile.Metadata(dataset: data.name, datasetFingerprint: try data.fingerprint(), split: split,
                                               numClasses: data.numClasses, teacherModel: setup.params.modelVersion,
                                               checkpointSHA256: checkpointSHA256, teacherAccuracy: 0,
                                               normalization: setup.normalization.summary)
            let writer = try LogitsFileWriter(path: tmp, metadata: metadata, labels: data.labels, views: views,
                                              encoding: encoding, features: shapes)
            if cluster.isDistributed {
                _ = cluster.broadcast(Array(try JSONEncoder().encode(SharedFile(path: tmp, layout: writer.rowWriter?.layout))))
            }
            try fill(writer.rowWriter, evaluator, views: views, split: split)
            let correct = cluster.allreduceSum([Double(writer.rowWriter?.correct ?? 0)])[0]
            try writer.finish(correctRows: Int(correct))
        }

        /// Another process of an MPI export: writes its share into the file the first one made.
        private func writeShare(_ evaluator: Evaluator, views: TeacherViews?) throws {
            let data = evaluator.assembler.dataset, cluster = setup.context.cluster
            let shared = try JSONDecoder().decode(SharedFile.self, from: Data(cluster.broadcast([])))
            let rows = try shared.layout.map {
                try LogitsRowWriter(path: shared.path, layout: $0, encoding: encoding, classes: data.numClasses,
                                    rowLabels: LogitsFile.rowLabels(data.labels, perSample: views?.perSample ?? 1))
            }
            try fill(rows, evaluator, views: views, split: nil)
            try rows?.sync()
            _ = cluster.allreduceSum([Double(rows?.correct ?? 0)])
        }

        /// The shapes of the teacher's features (one image's), for a file that stores them.
        private func featureShapes(_ evaluator: Evaluator) throws -> ModelFeatures? {
            guard features else { return nil }
            guard evaluator.model.hasEmbedding else {
                throw KDError(file: setup.paramsPath, "--features: \(evaluator.model.name) does not end in a linear layer, so it has no embedding to export")
            }
            let probe = Tensor(.plain([1] + evaluator.assembler.inputShape))
            return evaluator.model.forwardWithFeatures(probe).features
        }

        /// Runs the teacher over this process's rows (a contiguous run of whole evaluation
        /// batches, the batches a single process would run, so every row is computed as it would
        /// be alone) and writes each batch with `rows`. The root prints progress every 10 s.
        private func fill(_ rows: LogitsRowWriter?, _ evaluator: Evaluator, views: TeacherViews?, split: SplitName?) throws {
            let total = evaluator.assembler.dataset.count * (views?.perSample ?? 1), size = evaluator.batchSize
            let batches = setup.context.cluster.share(of: (total + size - 1) / size)
            let mine = min(batches.lowerBound * size, total)..<min(batches.upperBound * size, total)
            let start = Date()
            var reported = start
            try evaluator.forEachBatch(features: features, views: views, rowRange: mine) { batch in
                try rows?.write(batch.rows.lowerBound, count: batch.rows.count, logits: batch.logits, features: batch.features)
                let now = Date(), done = batch.rows.upperBound - mine.lowerBound
                guard let split, now.timeIntervalSince(reported) >= 10 && done < mine.count else { return }
                reported = now
                let rate = Double(done) / now.timeIntervalSince(start)
                FileHandle.standardError.write(Data(String(format: "%@: %d/%d rows (%.0f%%), %.0f images/s, about %.0f s left\n",
                    split.rawValue, done, mine.count, 100 * Double(done) / Double(mine.count), rate, Double(mine.count - done) / rate).utf8))
            }
        }
    }
}
