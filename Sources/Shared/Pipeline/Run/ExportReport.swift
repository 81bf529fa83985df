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
    /// How the rows are stored (`LogitsEncoding`'s description, "dense float32" by default);
    /// absent in reports written before compact rows.
    public var encoding: String?
    /// The exporting process's peak resident memory (the first process's, under MPI).
    public var peakRssMib: Int?

    public static let fileName = "export.json"

    public init(seconds: Double, images: Int, imagesPerS: Double, checkpoint: String, checkpointSha256: String,
                viewsPerTrainImage: Int? = nil, encoding: String? = nil, peakRssMib: Int? = nil) {
        self.seconds = seconds; self.images = images; self.imagesPerS = imagesPerS
        self.checkpoint = checkpoint; self.checkpointSha256 = checkpointSha256; self.viewsPerTrainImage = viewsPerTrainImage
        self.encoding = encoding; self.peakRssMib = peakRssMib
    }
}
