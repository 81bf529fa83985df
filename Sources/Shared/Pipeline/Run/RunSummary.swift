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
        // Padded to line up, never cut: a JSON-described model's name can be long.
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        var what = pad(role, 16) + " " + pad(params.modelVersion, 10)
        if let distillation = params.distillationDescription { what += " " + distillation }
        guard let val = try run.read(EpochMetrics.self, from: .valBestMetrics), let test = try run.read(TestMetrics.self, from: .testBestMetrics) else {
            return "\(what): not finished (\(dir))"
        }
        var line = "\(what): test accuracy \(percent(test.accuracy)) (best validation \(percent(val.accuracy)), epoch \(val.epoch))"
        if let a = test.teacherAgreement { line += ", agrees with the teacher on \(percent(a)) of test images" }
        return line
    }
}
