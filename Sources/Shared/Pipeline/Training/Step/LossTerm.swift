import Engine

/// One term of a student's loss: cross-entropy with the soft labels, attention transfer,
/// relational KD. The training step runs the student forward on a part of a batch, hands
/// every term the student's outputs and the teacher's rows for the same samples, and adds up
/// their losses; each term adds its gradient where it acts (logits, a stage, the embedding).
/// `LossTerms.make` builds a run's terms from its params.
protocol LossTerm {
    /// Whether the term reads the student's stage outputs or embedding; the step taps the model
    /// only when a term asks.
    var needsTaps: Bool { get }

    /// The term's loss on this part, its gradient added into `gradients`.
    func apply(_ student: StudentOutputs, _ teacher: TeacherBatch, _ gradients: inout StudentGradients) -> Double

    /// A line for the run's log at the start, when the term has something to say.
    var summary: String? { get }
}

extension LossTerm {
    var summary: String? { nil }
}

/// What the student's forward pass gave for `labels.count` samples.
struct StudentOutputs {
    /// Row-major [samples, classes].
    let logits: UnsafePointer<Float>
    let labels: [Int32]
    let classes: Int
    /// The stage outputs and the embedding, when a term asked for them.
    let taps: TappedFeatures?
    /// The epoch, 0-based (DKD's warm-up).
    let epoch: Int
}

/// Where the terms put dL/d(student outputs) for backward.
struct StudentGradients {
    /// Row-major [samples, classes]. The soft-label term, which runs first, writes it; every
    /// other term adds to it.
    let logits: UnsafeMutablePointer<Float>
    /// One per tapped stage; nil where no term acts.
    var stages: [[Float]?]
    /// nil where no term acts.
    var embedding: [Float]?
}
