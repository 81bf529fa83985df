import Engine
import Foundation

/// One line per run directory, read through the same report types the stages write: role,
/// model, the distillation settings, test accuracy of the best weights, best validation accuracy and its
/// epoch, teacher agreement. What `make demo` and `make summary` print.
public enum RunSummary {
    public static func line(for dir: String) throws -> String {
        let run = RunDirectory(dir)
        let params = try Params.load(run.path(.params))
        let role = run.exists(.logits) ? "teacher" : params.usesTeacher ? "student" : "scratch student"
        var what = role.padding(toLength: 16, withPad: " ", startingAt: 0) + " " + params.modelVersion.padding(toLength: 10, withPad: " ", startingAt: 0)
        if let distillation = params.distillationDescription { what += " " + distillation }
        guard let val = try run.read(EpochMetrics.self, from: .valBestMetrics), let test = try run.read(TestMetrics.self, from: .testBestMetrics) else {
            return "\(what): not finished (\(dir))"
        }
        var line = "\(what): test accuracy \(percent(test.accuracy)) (best validation \(percent(val.accuracy)), epoch \(val.epoch))"
        if let a = test.teacherAgreement { line += ", agrees with the teacher on \(percent(a)) of test images" }
        return line
    }
}
