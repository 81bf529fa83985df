import Engine

extension RunDirectory {
    /// What the end of each epoch writes, in an order that a crash at any point leaves
    /// consistent: best.h5 and its metrics when the epoch improved, then last.h5, its metrics
    /// and the history up to this epoch, as history.json and metrics.csv (a resume trims the
    /// history back to last.h5's epoch).
    public func endEpoch(model: Model, optimizer: Optimizer, state: Checkpoint.TrainingState, datasetFingerprint: String,
                         metrics: EpochMetrics, improved: Bool, history: TrainingHistory) throws {
        if improved {
            try Checkpoint.save(path(.best), model: model, optimizer: optimizer, state: state, datasetFingerprint: datasetFingerprint)
            try write(metrics, to: .valBestMetrics)
        }
        try Checkpoint.save(path(.last), model: model, optimizer: optimizer, state: state, datasetFingerprint: datasetFingerprint)
        try write(metrics, to: .valLastMetrics)
        try write(history, to: .history)
        try AtomicWrite.write(history.csv, to: path(.metricsCSV))
    }
}
