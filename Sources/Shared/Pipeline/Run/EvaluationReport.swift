/// evaluation_<split>_<checkpoint>.json: what `student-distill evaluate` measured of one
/// checkpoint of a run on one split.
public struct EvaluationReport: Codable, Equatable, Sendable {
    public var split: SplitName
    public var checkpoint: RestorePoint
    /// Epochs the checkpoint had completed.
    public var epoch: Int
    public var images: Int
    public var accuracy: Double
    /// Mean cross-entropy per image.
    public var loss: Double
}
