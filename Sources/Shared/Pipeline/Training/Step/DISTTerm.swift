import Engine

/// DIST's relational term on the logits (`dist_beta`, `dist_gamma`, at `temperature`): the
/// Pearson correlations of the softened student and teacher rows (inter-class) and columns
/// (intra-class) of each part of a batch; see `DIST`.
struct DISTTerm: LossTerm {
    let temperature: Double, beta: Double, gamma: Double

    /// The term `p` asks for, or nil when both weights are 0.
    init?(_ p: Params) {
        guard p.distBeta > 0 || p.distGamma > 0 else { return nil }
        (temperature, beta, gamma) = (p.temperature, p.distBeta, p.distGamma)
    }

    var needsTaps: Bool { false }

    func apply(_ student: StudentOutputs, _ teacher: TeacherBatch, _ gradients: inout StudentGradients) -> Double {
        teacher.logits.withUnsafeBufferPointer { t in
            DIST.compute(student: student.logits, teacher: t.baseAddress!, rows: student.labels.count, classes: student.classes,
                         temperature: temperature, beta: beta, gamma: gamma, gradient: gradients.logits)
        }
    }
}
