import Engine

/// The relational-KD term of a student run (`rkd_distance_weight`, `rkd_angle_weight`): per
/// batch, `RelationalKD` between the student's embeddings and the teacher's exported ones for
/// the same rows, and the gradient for the student's embedding.
struct RelationalTerm: LossTerm {
    let teacher: ModelFeatures
    let distanceWeight: Float, angleWeight: Float

    var needsTaps: Bool { true }

    func apply(_ student: StudentOutputs, _ teacher: TeacherBatch, _ gradients: inout StudentGradients) -> Double {
        let (loss, embeddingGradient) = compute(student.taps!, rows: teacher.rows)
        gradients.embedding = embeddingGradient
        return loss
    }

    func compute(_ student: TappedFeatures, rows: [Int]) -> (loss: Double, embeddingGradient: [Float]) {
        let teacherRows = gatherRows(teacher.embedding, rowSize: teacher.embeddingSize, rows: rows)
        var gradient = [Float](repeating: 0, count: student.embedding.count)
        let value = RelationalKD.compute(student: student.embedding, studentSize: student.embeddingSize, teacher: teacherRows,
                                         teacherSize: teacher.embeddingSize, rows: rows.count,
                                         distanceWeight: distanceWeight, angleWeight: angleWeight, gradient: &gradient)
        return (value.loss, gradient)
    }
}
