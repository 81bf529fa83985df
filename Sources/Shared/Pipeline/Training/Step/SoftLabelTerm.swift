import Engine

/// Cross-entropy on the labels plus the soft-label term on the teacher's logits
/// (`DistillationLoss`: KD or DKD, with or without logit standardisation, weighted by
/// `alpha`); alpha 0 is plain cross-entropy. Every run has it, first: it writes the logits'
/// gradient that the other terms add to.
struct SoftLabelTerm: LossTerm {
    let loss: DistillationLoss
    /// The soft term's factor in an epoch (DKD's warm-up).
    let softScale: @Sendable (_ epoch: Int) -> Float

    init(_ p: Params) {
        loss = p.distillationLoss
        softScale = { [p] in p.softScale(epoch: $0) }
    }

    var needsTaps: Bool { false }

    func apply(_ student: StudentOutputs, _ teacher: TeacherBatch, _ gradients: inout StudentGradients) -> Double {
        let teacherLogits = loss.alpha > 0 ? teacher.logits : []
        return teacherLogits.withUnsafeBufferPointer { t in
            loss.compute(student: student.logits, teacher: loss.alpha > 0 ? t.baseAddress : nil, labels: student.labels,
                         classes: student.classes, gradient: gradients.logits, softScale: softScale(student.epoch)).loss
        }
    }
}
