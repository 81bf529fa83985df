import Engine
/// How often each true class was predicted as each class, over one split's images.
public struct ConfusionMatrix: Equatable, Sendable {
    public let classes: Int
    /// Row-major [true class][predicted class].
    public private(set) var counts: [Int]

    public init(predictions: [Int], labels: [Int], classes: Int) {
        precondition(predictions.count == labels.count)
        self.classes = classes
        counts = [Int](repeating: 0, count: classes * classes)
        for (p, y) in zip(predictions, labels) { counts[y * classes + p] += 1 }
    }

    public func count(truth: Int, predicted: Int) -> Int { counts[truth * classes + predicted] }

    /// Images of class `truth`.
    public func total(truth: Int) -> Int { counts[(truth * classes)..<((truth + 1) * classes)].reduce(0, +) }

    public var accuracy: Double {
        let all = counts.reduce(0, +)
        return all == 0 ? 0 : Double((0..<classes).map { count(truth: $0, predicted: $0) }.reduce(0, +)) / Double(all)
    }

    /// The arg-max class of each row of row-major `logits`.
    public static func predictions(logits: [Float], classes k: Int) -> [Int] {
        (0..<(logits.count / k)).map { Predictions.argmax(logits, row: $0, classes: k) }
    }
}

/// A student against its teacher on one split: both confusion matrices, and per class how often
/// they pick different classes.
public struct TeacherStudentComparison: Sendable {
    public struct ClassRow: Equatable, Sendable {
        public var label: Int
        public var images: Int
        /// Share of this class's images on which student and teacher predict different classes.
        public var disagreement: Double
        public var studentAccuracy: Double
        public var teacherAccuracy: Double
    }

    public let split: SplitName
    public let classNames: [String]
    public let student: ConfusionMatrix
    public let teacher: ConfusionMatrix
    /// Every class, the most disagreed-on first.
    public let classes: [ClassRow]

    public init(split: SplitName, student: [Int], teacher: [Int], labels: [Int], classNames: [String]) {
        let k = classNames.count
        self.split = split
        self.classNames = classNames
        self.student = ConfusionMatrix(predictions: student, labels: labels, classes: k)
        self.teacher = ConfusionMatrix(predictions: teacher, labels: labels, classes: k)
        classes = (0..<k).map { c in
            let rows = labels.indices.filter { labels[$0] == c }
            let n = max(rows.count, 1)
            return ClassRow(label: c, images: rows.count,
                            disagreement: Double(rows.filter { student[$0] != teacher[$0] }.count) / Double(n),
                            studentAccuracy: Double(rows.filter { student[$0] == c }.count) / Double(n),
                            teacherAccuracy: Double(rows.filter { teacher[$0] == c }.count) / Double(n))
        }.sorted { ($0.disagreement, -$0.label) > ($1.disagreement, -$1.label) }
    }
}
