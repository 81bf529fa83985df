/// export.json beside the logits files: what teacher-export ran and how fast, which the
/// sweep's cost comparison reads.
public struct ExportReport: Codable, Equatable, Sendable {
    public var seconds: Double
    /// Teacher forward passes: every val and test image once, every training image once per view.
    public var images: Int
    public var imagesPerS: Double
    /// The checkpoint exported and its SHA-256.
    public var checkpoint: String
    public var checkpointSha256: String
    /// Augmented views per training image (`--views`); absent in reports written before views.
    public var viewsPerTrainImage: Int?

    public static let fileName = "export.json"

    public init(seconds: Double, images: Int, imagesPerS: Double, checkpoint: String, checkpointSha256: String,
                viewsPerTrainImage: Int? = nil) {
        self.seconds = seconds; self.images = images; self.imagesPerS = imagesPerS
        self.checkpoint = checkpoint; self.checkpointSha256 = checkpointSha256; self.viewsPerTrainImage = viewsPerTrainImage
    }
}
