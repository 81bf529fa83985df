import Engine

/// The attention-transfer term of a student run (`at_weight`): which of the student's stages
/// meets which of the teacher's exported attention maps, and per batch the weighted loss and
/// the gradient for each student stage.
///
/// Pairing: a student stage pairs with the teacher's stage of the same spatial size, and a
/// stage of either side without one sits out (cnn5 on 28x28 images has a 3x3 stage that a
/// CIFAR ResNet lacks). Where no sizes match but both have as many stages, they pair by position
/// (RepDistiller's rule, resized by `AttentionTransfer`); otherwise the run stops.
public struct AttentionTerm: LossTerm {
    public struct Pair: Equatable, Sendable {
        public let student: Int, teacher: Int
        public init(student: Int, teacher: Int) { self.student = student; self.teacher = teacher }
    }
    public let pairs: [Pair]
    let studentStages: [(height: Int, width: Int)]
    let teacher: ModelFeatures
    let weight: Double

    /// The term for `model`, a student of `setup`'s data, against the teacher's exported maps.
    init(model: Model, setup: RunSetup, teacher: ModelFeatures) throws {
        // The student's stage sizes, from one evaluation-mode pass (which changes no state).
        let probe = Tensor(.plain([1] + setup.inputShape))
        let stages = model.forwardWithFeatures(probe).features.attention.map { ($0.height, $0.width) }
        try self.init(studentStages: stages, teacher: teacher, weight: setup.params.atWeight, file: setup.paramsPath)
    }

    public init(studentStages: [(height: Int, width: Int)], teacher: ModelFeatures, weight: Double, file: String) throws {
        self.studentStages = studentStages
        self.teacher = teacher
        self.weight = weight
        let teacherSizes = teacher.attention.map { ($0.height, $0.width) }
        var bySize: [Pair] = []
        var used = Set<Int>()
        for (i, s) in studentStages.enumerated() {
            if let j = teacherSizes.indices.first(where: { !used.contains($0) && teacherSizes[$0] == (s.height, s.width) }) {
                bySize.append(Pair(student: i, teacher: j))
                used.insert(j)
            }
        }
        func sizes(_ list: [(Int, Int)]) -> String { list.map { "\($0.0)x\($0.1)" }.joined(separator: ", ") }
        let student = sizes(studentStages.map { ($0.height, $0.width) })
        if !bySize.isEmpty {
            pairs = bySize
        } else if !studentStages.isEmpty && studentStages.count == teacherSizes.count {
            pairs = studentStages.indices.map { Pair(student: $0, teacher: $0) }
        } else {
            throw KDError(file: file, "key 'at_weight': the student's stages (\(student.isEmpty ? "none" : student)) cannot be paired with the teacher's (\(sizes(teacherSizes))): no sizes match and the counts differ")
        }
    }

    var needsTaps: Bool { true }

    var summary: String? { "Attention transfer (weight \(numberText(weight))): " + description }

    func apply(_ student: StudentOutputs, _ teacher: TeacherBatch, _ gradients: inout StudentGradients) -> Double {
        let (loss, stageGradients) = compute(student.taps!, rows: teacher.rows)
        for (i, g) in stageGradients.enumerated() where g != nil { gradients.stages[i] = g }
        return loss
    }

    /// A readable list of the pairs, for the log: "stage1 28x28 <- stage1 28x28, ...".
    var description: String {
        pairs.map { p in
            let s = studentStages[p.student], t = teacher.attention[p.teacher]
            return "stage\(p.student + 1) \(s.height)x\(s.width) <- teacher \(t.name) \(t.height)x\(t.width)"
        }.joined(separator: ", ")
    }

    /// weight * the sum over pairs of `AttentionTransfer` for the training rows `rows`, and the
    /// matching gradient for each student stage (nil for an unpaired one).
    func compute(_ student: TappedFeatures, rows: [Int]) -> (loss: Double, stageGradients: [[Float]?]) {
        var total = 0.0
        var gradients = [[Float]?](repeating: nil, count: student.stages.count)
        for pair in pairs {
            let s = student.stages[pair.student], t = teacher.attention[pair.teacher]
            let teacherRows = gatherRows(t.values, rowSize: t.height * t.width, rows: rows)
            var g = [Float](repeating: 0, count: s.values.count)
            total += AttentionTransfer.compute(student: s.values, shape: s.shape, teacher: teacherRows,
                                               teacherHeight: t.height, teacherWidth: t.width, gradient: &g, scale: Float(weight))
            gradients[pair.student] = g
        }
        return (weight * total, gradients)
    }
}
