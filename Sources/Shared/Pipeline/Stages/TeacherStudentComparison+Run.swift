import Engine

extension TeacherStudentComparison {
    /// A student run's best.h5 evaluated on `split`, against the teacher logits its params.json
    /// names (checked against the data as a student run checks them).
    public static func of(runDir: String, split: SplitName = .test) throws -> TeacherStudentComparison {
        let setup = try RunSetup(runDir: runDir)
        guard let folder = setup.params.teacherLogits.map({ setup.directory.resolve($0) }) else {
            throw KDError(file: setup.paramsPath, "names no teacher_logits to compare the student with")
        }
        let data = setup.splits[split]
        let teacher = try LogitsFile.load(folder + "/\(split.rawValue).h5", for: data, split: split)
        let model = try setup.makeModel()
        try Checkpoint.load(setup.directory.path(.best), into: model)
        let student = try setup.evaluator(model, on: data).run()
        let k = data.numClasses
        return TeacherStudentComparison(split: split, student: ConfusionMatrix.predictions(logits: student.logits, classes: k),
                                        teacher: ConfusionMatrix.predictions(logits: teacher.logits, classes: k),
                                        labels: data.labels.map(Int.init), classNames: data.classNames)
    }
}
