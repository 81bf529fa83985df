import Engine
/// How training images become the network's inputs, torchvision's transforms in their order:
/// `RandomCrop(crop, padding, pad_if_needed, padding_mode)`, `RandomHorizontalFlip()`,
/// `RandomRotation(degrees, interpolation)` (on uint8 images: the rotated pixels are rounded
/// back to bytes, fill 0). Padding is in pixel space, so constant padding is black before
/// normalisation. Evaluation takes `CenterCrop(crop)` when the crop is not the image's size.
/// Every draw comes from a seeded stream, and a `View` holds all a draw decided, so a
/// replayed view (`TeacherViews`) is exactly the image the teacher saw.
public struct Augmentation: Codable, Equatable, Sendable {
    /// Padding on each side before the random crop (0 with the crop at the image's size
    /// disables cropping).
    public var padding: Int
    public var horizontalFlip: Bool
    /// The network's input side (nil: the image's own side). Training crops it at random,
    /// evaluation from the centre.
    public var cropSize: Int?
    /// torchvision's `pad_if_needed`: an image (after `padding`) smaller than the crop is
    /// padded on both sides by the difference.
    public var padIfNeeded: Bool
    public var paddingMode: PaddingMode
    /// Rotation by an angle drawn uniformly from [-degrees, degrees]; 0 for none.
    public var rotationDegrees: Double
    public var interpolation: Interpolation

    public enum PaddingMode: String, Codable, CaseIterable, Sendable {
        /// Zeros; `reflect` mirrors without repeating the edge pixel, `symmetric` with it,
        /// `edge` repeats it (torch.nn.functional.pad's and torchvision's meanings).
        case constant, reflect, symmetric, edge
    }

    public enum Interpolation: String, Codable, CaseIterable, Sendable { case nearest, bilinear }

    public init(padding: Int, horizontalFlip: Bool, cropSize: Int? = nil, padIfNeeded: Bool = false, paddingMode: PaddingMode = .constant,
                rotationDegrees: Double = 0, interpolation: Interpolation = .nearest) {
        self.padding = padding; self.horizontalFlip = horizontalFlip; self.cropSize = cropSize; self.padIfNeeded = padIfNeeded
        self.paddingMode = paddingMode; self.rotationDegrees = rotationDegrees; self.interpolation = interpolation
    }

    public static let none = Augmentation(padding: 0, horizontalFlip: false)

    /// What `augmentation: true` means for `data` without further keys: 4-pixel padding for
    /// images of 32 pixels or more (CIFAR's), 2 below, and flips.
    public static func standard(for data: Dataset) -> Augmentation {
        Augmentation(padding: data.height >= 32 ? 4 : 2, horizontalFlip: true)
    }

    /// No random draw at all (the evaluation transform still crops the centre).
    public var isIdentity: Bool { padding == 0 && !horizontalFlip && rotationDegrees == 0 && !padIfNeeded && cropSize == nil }

    /// The output side for images of side `size`.
    public func outputSize(_ size: Int) -> Int { cropSize ?? size }

    /// How far the crop's corner can sit from the padded image's, and how much padding there
    /// is on each side in all: `padding`, plus what `pad_if_needed` adds.
    public func cropRange(_ size: Int) -> (offsets: Int, padding: Int) {
        let crop = outputSize(size)
        var padded = size + 2 * padding
        if padIfNeeded && padded < crop { padded += 2 * (crop - padded) }
        return (max(padded - crop, 0), (padded - size) / 2)
    }

    /// Draws one sample's view of an image of side `size`: crop corner, flip, angle, in that
    /// order from `rng`.
    public func drawView(_ rng: inout SeededRNG, size: Int) -> View {
        let (offsets, pad) = cropRange(size)
        let dy = offsets > 0 ? rng.below(offsets + 1) : offsets
        let dx = offsets > 0 ? rng.below(offsets + 1) : offsets
        let flip = horizontalFlip ? rng.below(2) == 1 : false
        let angle = rotationDegrees > 0 ? Float((rng.unitDouble() * 2 - 1) * rotationDegrees) : 0
        return View(cropY: dy, cropX: dx, flip: flip, padding: pad, angle: angle)
    }

    /// The evaluation view of an image of side `size`: torchvision's `CenterCrop`, which pads
    /// with zeros when the crop is larger.
    public func centerView(_ size: Int) -> View {
        let crop = outputSize(size)
        guard crop != size else { return .identity }
        if crop < size { let top = Int((Double(size - crop) / 2).rounded(.toNearestOrEven)); return View(cropY: top, cropX: top, flip: false, padding: 0) }
        let pad = (crop - size) / 2
        return View(cropY: 0, cropX: 0, flip: false, padding: pad)
    }

    /// One augmented view of a sample: where the crop starts in the padded image (padded by
    /// `padding` on each side), the flip, and the rotation in degrees (counter-clockwise).
    /// The identity view is `cropY == cropX == padding`, no flip, no angle.
    public struct View: Equatable, Sendable {
        public var cropY: Int
        public var cropX: Int
        public var flip: Bool
        public var padding: Int
        public var angle: Float

        public init(cropY: Int, cropX: Int, flip: Bool, padding: Int, angle: Float = 0) {
            self.cropY = cropY; self.cropX = cropX; self.flip = flip; self.padding = padding; self.angle = angle
        }

        public static let identity = View(cropY: 0, cropX: 0, flip: false, padding: 0)
    }
}

extension Augmentation {
    /// The transforms in words, for logs and messages: "crop 256 (padding 0, if needed,
    /// symmetric), flips, rotation 15 degrees (nearest)".
    public var summary: String {
        var crop = cropSize.map { "crop \($0) (padding \(padding)" } ?? "crop (padding \(padding)"
        if padIfNeeded { crop += ", if needed" }
        if paddingMode != .constant { crop += ", \(paddingMode.rawValue)" }
        var parts = [crop + ")"]
        parts.append(horizontalFlip ? "flips" : "no flips")
        if rotationDegrees > 0 { parts.append("rotation \(numberText(rotationDegrees)) degrees (\(interpolation.rawValue))") }
        return parts.joined(separator: ", ")
    }
}
