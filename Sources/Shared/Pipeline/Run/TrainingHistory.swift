/// history.json (and metrics.csv, the same rows for a spreadsheet or pandas): one entry per
/// completed epoch, cut back to the checkpoint's epoch on resume.
public struct TrainingHistory: Codable, Equatable, Sendable {
    public struct Epoch: Codable, Equatable, Sendable {
        /// 1-based.
        public var epoch: Int
        public var valAccuracy: Double
        public var valLoss: Double
        public var trainAccuracy: Double
        public var trainLoss: Double
        public var learningRate: Double
        public var seconds: Double
    }

    public var epochs: [Epoch] = []

    /// The columns of metrics.csv, in order.
    public static let csvHeader = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds"

    /// metrics.csv: the header, then one line per epoch (numbers in Swift's shortest exact form).
    public var csv: String {
        let rows = epochs.map { e in
            ([String(e.epoch)] + [e.trainLoss, e.trainAccuracy, e.valLoss, e.valAccuracy, e.learningRate, e.seconds].map { "\($0)" })
                .joined(separator: ",")
        }
        return ([Self.csvHeader] + rows).joined(separator: "\n") + "\n"
    }
}
