import Engine

/// The teacher's side of a run, built once from its logits files: the train rows the loss
/// terms read (logits, and the features the feature terms need), the augmented views those rows
/// belong to, and the validation logits each epoch's metrics compare with. A teacher's own
/// training, or a scratch student, has none of them (`TeacherTargets.none`).
///
/// `batch` is the one way to find which rows a batch reads: a multi-view export's stored views
/// (replayed, FKD), else the plain rows with freshly drawn views (or none without augmentation).
public struct TeacherTargets {
    /// Classes per row.
    public let classes: Int
    /// The train rows' logits, [train.count * V, classes] (V views per sample, 1 without), in
    /// memory or read by row from the file; nil when no term reads logits.
    public let logits: LogitsFile?
    /// The train rows' features, for attention transfer and relational KD.
    public let features: ModelFeatures?
    /// The views of a multi-view export, which the run replays; nil for plain rows.
    public let views: TeacherViews?
    /// The teacher's validation logits, when given.
    public let validation: [Float]?

    public init(classes: Int, logits: LogitsFile?, features: ModelFeatures? = nil, views: TeacherViews? = nil, validation: [Float]? = nil) {
        self.classes = classes; self.logits = logits; self.features = features; self.views = views; self.validation = validation
    }

    /// No teacher: a teacher's own training, or a scratch student.
    public static func none(classes: Int) -> TeacherTargets { TeacherTargets(classes: classes, logits: nil) }

    /// The rows and input views of the training samples `indices`, batch `b` of `epoch`, with
    /// the logits of those rows.
    func batch(_ indices: [Int], epoch: Int, batch b: Int, seed: UInt64, augmentation: Augmentation, imageSize: Int) throws -> TeacherBatch {
        let rows: [Int], inputViews: [Augmentation.View]
        if let views {
            (rows, inputViews) = views.replay(indices, epoch: epoch, studentSeed: seed)
        } else {
            var viewRNG = SeededRNG(seed: seed, stream: 0xA06, UInt64(epoch), UInt64(b))
            (rows, inputViews) = (indices, augmentation.isIdentity ? [] : indices.map { _ in augmentation.drawView(&viewRNG, size: imageSize) })
        }
        return TeacherBatch(targets: self, rows: rows, views: inputViews, logits: try logits?.logits(of: rows))
    }
}

/// The teacher's rows for some training samples (a batch or a part of one), in their order, and
/// the views the student's inputs take.
struct TeacherBatch {
    let targets: TeacherTargets
    /// Rows of the teacher's arrays, one per sample.
    let rows: [Int]
    /// The inputs' crops and flips, one per sample; empty without augmentation.
    let views: [Augmentation.View]

    /// The rows' logits, gathered once for the batch; nil without a teacher.
    let rowLogits: [Float]?

    init(targets: TeacherTargets, rows: [Int], views: [Augmentation.View], logits: [Float]?) {
        self.targets = targets; self.rows = rows; self.views = views; rowLogits = logits
    }

    /// The samples at `positions` of this batch.
    func part(_ positions: Range<Int>) -> TeacherBatch {
        let k = targets.classes
        return TeacherBatch(targets: targets, rows: Array(rows[positions]), views: views.isEmpty ? [] : Array(views[positions]),
                            logits: rowLogits.map { Array($0[(positions.lowerBound * k)..<(positions.upperBound * k)]) })
    }

    /// The teacher's logits of these rows, row-major [rows, classes].
    var logits: [Float] {
        guard let rowLogits else { preconditionFailure("a term read logits the teacher does not have") }
        return rowLogits
    }

    /// The teacher's exported features, for the feature terms.
    var features: ModelFeatures {
        guard let f = targets.features else { preconditionFailure("a term read features the teacher does not have") }
        return f
    }
}
