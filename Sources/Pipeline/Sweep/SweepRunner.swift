import Engine
import Foundation

/// Runs every point of a sweep one after another against the one teacher export, skipping
/// children that already finished and resuming one that was interrupted, so an interrupted
/// sweep continues where it stopped. It never runs the teacher.
public enum SweepRunner {
    /// Writes the children's params.json (keeping existing identical ones) and runs the
    /// unfinished ones. Returns (ran, skipped).
    @discardableResult
    public static func run(sweepDir: String, say: (String) -> Void = { print($0) }) throws -> (ran: Int, skipped: Int) {
        let spec = try SweepSpec.load((sweepDir as NSString).appendingPathComponent("sweep.json"))
        let lock = try RunLock(sweepDir)  // a sweep started twice is refused here, not mid-point
        defer { withExtendedLifetime(lock) {} }
        let points = spec.points
        var ran = 0, skipped = 0
        for (i, point) in points.enumerated() {
            let dir = (sweepDir as NSString).appendingPathComponent(point.directoryName)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let paramsPath = dir + "/params.json"
            let data = try JSONSerialization.data(withJSONObject: spec.params(for: point).mapValues(\.foundationObject),
                                                  options: [.prettyPrinted, .sortedKeys])
            if FileManager.default.contents(atPath: paramsPath) != data {
                if FileManager.default.fileExists(atPath: dir + "/last.h5") {
                    throw PipelineError(file: paramsPath, "differs from what sweep.json now asks for, and the run has started; move the folder away to rerun it")
                }
                try AtomicWrite.write(data, to: paramsPath)
            }
            let tag = "[\(i + 1)/\(points.count)] \(point.directoryName)"
            if FileManager.default.fileExists(atPath: dir + "/metrics_test_best_weights.json") {
                say("\(tag): finished before, skipping")
                skipped += 1
                continue
            }
            let resume = FileManager.default.fileExists(atPath: dir + "/last.h5")
            say("\(tag): \(resume ? "resuming" : "training")")
            try StudentRun.run(modelDir: dir, restore: resume ? .last : nil)
            ran += 1
        }
        say("sweep \(sweepDir): \(ran) runs trained, \(skipped) already finished")
        return (ran, skipped)
    }
}
