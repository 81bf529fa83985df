/// metrics_val_best_weights.json and metrics_val_last_weights.json: the validation result of
/// the epoch whose weights best.h5 / last.h5 hold, with that epoch's training figures.
public struct EpochMetrics: Codable, Equatable, Sendable {
    public var accuracy: Double
    public var loss: Double
    /// 1-based.
    public var epoch: Int
    public var trainAccuracy: Double
    public var trainLoss: Double
    /// Students with the teacher's validation logits: `TeacherComparison` on validation.
    public var teacherAgreement: Double?
    public var klToTeacher: Double?
}
