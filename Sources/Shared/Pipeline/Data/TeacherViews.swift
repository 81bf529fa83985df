import Engine

/// The augmented views a multi-view export ran the teacher on (`teacher-export --views V`):
/// V crops and flips per training sample, each sample's drawn from its own seeded stream, so
/// view v of sample n is the same whatever the batch size, order or thread count. The rows such
/// an export caches are row-major [N, V, ...]: view v of sample n is row n * V + v.
///
/// A student with augmentation replays them (FKD, Shen & Xing, ECCV 2022): in every epoch each
/// sample takes one of its stored views, drawn from the student's seed, the epoch and the
/// sample index; its input is exactly that crop and flip and its teacher targets are that
/// view's rows, so inputs and targets always belong together.
public struct TeacherViews: Equatable, Sendable {
    /// V, the views stored per sample.
    public let perSample: Int
    /// The augmentation the views were drawn from (the students' own), and the side of the
    /// images they were drawn for.
    public let augmentation: Augmentation
    public let imageSize: Int
    /// The seed of the views' streams (`teacher-export --view-seed`).
    public let seed: UInt64
    /// Row-major [N, V].
    public let views: [Augmentation.View]

    public var samples: Int { views.count / perSample }

    public init(perSample: Int, augmentation: Augmentation, imageSize: Int, seed: UInt64, views: [Augmentation.View]) {
        precondition(perSample >= 1 && views.count % perSample == 0, "views of whole samples")
        self.perSample = perSample; self.augmentation = augmentation; self.imageSize = imageSize; self.seed = seed; self.views = views
    }

    /// Draws `perSample` views for each of `samples` samples of side `imageSize`.
    public init(samples: Int, perSample: Int, augmentation: Augmentation, imageSize: Int, seed: UInt64) {
        var views = [Augmentation.View]()
        views.reserveCapacity(samples * perSample)
        for n in 0..<samples {
            var rng = SeededRNG(seed: seed, stream: 0x7E11, UInt64(n))
            for _ in 0..<perSample { views.append(augmentation.drawView(&rng, size: imageSize)) }
        }
        self.init(perSample: perSample, augmentation: augmentation, imageSize: imageSize, seed: seed, views: views)
    }

    /// For the training samples `indices` of one batch in `epoch`: the cached rows the student
    /// replays (n * V + v) and their views, in batch order.
    public func replay(_ indices: [Int], epoch: Int, studentSeed: UInt64) -> (rows: [Int], views: [Augmentation.View]) {
        let rows = indices.map { n in
            var rng = SeededRNG(seed: studentSeed, stream: 0x5E1EC7, UInt64(epoch), UInt64(n))
            return n * perSample + rng.below(perSample)
        }
        return (rows, rows.map { views[$0] })
    }

    // MARK: - As stored: int32 [N, V, 3], and float32 [N, V] angles

    /// (crop_y, crop_x, flip) per view, row-major [N, V, 3]: the crop's top-left corner in the
    /// padded image (`Augmentation.cropRange`), and 1 for a mirrored view.
    public var table: [Int32] {
        views.flatMap { [Int32($0.cropY), Int32($0.cropX), $0.flip ? 1 : 0] }
    }

    /// Each view's rotation in degrees, row-major [N, V]; stored only when the views rotate.
    public var angles: [Float] { views.map(\.angle) }

    /// The views of a stored table (and angles), or a description of the first entry that no
    /// view of `augmentation` can have.
    public static func fromTable(_ table: [Int32], angles: [Float]?, perSample: Int, augmentation: Augmentation, imageSize: Int,
                                 seed: UInt64) -> Result<TeacherViews, ViewError> {
        var views = [Augmentation.View]()
        views.reserveCapacity(table.count / 3)
        let (offsets, padding) = augmentation.cropRange(imageSize)
        let crops = 0...Int32(offsets)
        let turn = Float(augmentation.rotationDegrees)
        for i in stride(from: 0, to: table.count, by: 3) {
            let (y, x, flip) = (table[i], table[i + 1], table[i + 2])
            let angle = angles?[i / 3] ?? 0
            guard crops.contains(y), crops.contains(x), flip == 0 || (flip == 1 && augmentation.horizontalFlip), abs(angle) <= turn else {
                return .failure(ViewError(row: i / 3 / perSample, view: i / 3 % perSample, entry: [y, x, flip], angle: angle))
            }
            views.append(Augmentation.View(cropY: Int(y), cropX: Int(x), flip: flip == 1, padding: padding, angle: angle))
        }
        return .success(TeacherViews(perSample: perSample, augmentation: augmentation, imageSize: imageSize, seed: seed, views: views))
    }

    public struct ViewError: Error, Equatable {
        public let row: Int, view: Int
        public let entry: [Int32]
        public let angle: Float
    }
}
