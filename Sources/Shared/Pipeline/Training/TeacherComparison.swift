import Engine
import Foundation

/// How close a student's logits are to its teacher's on the same rows: the share of rows where
/// both pick the same class, and KL(softmax(teacher) || softmax(student)) at temperature 1,
/// averaged over rows (in nats). Results tables report both on validation.
public struct TeacherComparison: Equatable, Sendable {
    public var agreement: Double
    public var klToTeacher: Double

    /// `student` and `teacher` are row-major [rows, k].
    public init(student: [Float], teacher: [Float], classes k: Int) {
        precondition(student.count == teacher.count && k > 0, "student and teacher logits differ in size")
        let rows = student.count / k
        var agree = 0, kl = 0.0
        for r in 0..<rows {
            if Predictions.argmax(student, row: r, classes: k) == Predictions.argmax(teacher, row: r, classes: k) { agree += 1 }
            let s = student[(r * k)..<(r * k + k)].map(Double.init), t = teacher[(r * k)..<(r * k + k)].map(Double.init)
            let lseS = Self.logSumExp(s), lseT = Self.logSumExp(t)
            for j in 0..<k {
                let logPt = t[j] - lseT
                let pt = exp(logPt)
                if pt > 0 { kl += pt * (logPt - (s[j] - lseS)) }
            }
        }
        agreement = rows > 0 ? Double(agree) / Double(rows) : 0
        klToTeacher = rows > 0 ? kl / Double(rows) : 0
    }

    private static func logSumExp(_ x: [Double]) -> Double {
        let m = x.max() ?? 0
        return m + log(x.reduce(0) { $0 + exp($1 - m) })
    }
}
