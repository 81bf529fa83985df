import Engine
/// Training-time augmentation, torchvision's `RandomCrop(size, padding)` followed by
/// `RandomHorizontalFlip()`: the image is zero-padded (in pixel space, so padding is black
/// before normalisation), cropped back to its size at a random offset, then mirrored with
/// probability 1/2.
public struct Augmentation: Codable, Equatable, Sendable {
    /// Zero padding on each side before the random crop; 0 disables cropping.
    public var padding: Int
    public var horizontalFlip: Bool

    public init(padding: Int, horizontalFlip: Bool) {
        self.padding = padding
        self.horizontalFlip = horizontalFlip
    }

    public static let none = Augmentation(padding: 0, horizontalFlip: false)

    /// What `augmentation: true` means for `data`, for students and for the views a teacher
    /// exports alike: 4-pixel padding for images of 32 pixels or more (CIFAR's), 2 below, and flips.
    public static func standard(for data: Dataset) -> Augmentation {
        Augmentation(padding: data.height >= 32 ? 4 : 2, horizontalFlip: true)
    }
    public var isIdentity: Bool { padding == 0 && !horizontalFlip }

    /// Draws one sample's view: crop offsets in 0...2*padding and the flip.
    public func drawView(_ rng: inout SeededRNG) -> View {
        let dy = padding > 0 ? rng.below(2 * padding + 1) : padding
        let dx = padding > 0 ? rng.below(2 * padding + 1) : padding
        let flip = horizontalFlip ? rng.below(2) == 1 : false
        return View(cropY: dy, cropX: dx, flip: flip, padding: padding)
    }

    /// One augmented view of a sample: where the crop starts in the padded image, and the flip.
    /// The identity view is `cropY == cropX == padding`, no flip.
    public struct View: Equatable, Sendable {
        public var cropY: Int
        public var cropX: Int
        public var flip: Bool
        public var padding: Int

        public init(cropY: Int, cropX: Int, flip: Bool, padding: Int) {
            self.cropY = cropY
            self.cropX = cropX
            self.flip = flip
            self.padding = padding
        }

        public static let identity = View(cropY: 0, cropX: 0, flip: false, padding: 0)
    }
}
