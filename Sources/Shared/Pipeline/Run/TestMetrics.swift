/// metrics_test_best_weights.json: the one evaluation of best.h5 on the test split, and for
/// a student what it cost and how often it agrees with its teacher.
public struct TestMetrics: Codable, Equatable, Sendable {
    public var accuracy: Double
    public var loss: Double
    /// Share of test images where student and teacher pick the same class (with teacher logits).
    public var teacherAgreement: Double?
    public var teacherTestAccuracy: Double?
    /// Student runs: wall-clock seconds of the whole run, training images per epoch, epochs.
    public var wallSeconds: Double?
    public var trainImages: Int?
    public var epochs: Int?
}
