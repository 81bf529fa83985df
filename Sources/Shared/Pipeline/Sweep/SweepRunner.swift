import Engine
import Foundation

/// Runs every point of a sweep one after another against the one teacher export, skipping
/// children that already finished and resuming one that was interrupted, so an interrupted
/// sweep continues where it stopped. It never runs the teacher.
///
/// Under MPI (`mpirun -np N student-distill sweep DIR`) the points are dealt out statically:
/// point i runs on rank i mod N, each a single-process run on its share of the cores, so every
/// point runs exactly once; rank 0 holds the sweep's lock until every rank is done.
public enum SweepRunner {
    /// Writes the children's params.json (keeping existing identical ones) and runs the
    /// unfinished ones. Returns (ran, skipped).
    @discardableResult
    public static func run(sweepDir: String, context: RunContext = RunContext(), say: (String) -> Void = { print($0) }) throws -> (ran: Int, skipped: Int) {
        let spec = try SweepSpec.load((sweepDir as NSString).appendingPathComponent("sweep.json"))
        let cluster = context.cluster
        let lock = try RunLock(sweepDir, cluster: cluster)  // a sweep started twice is refused here, not mid-point
        defer {
            cluster.barrier()  // the lock is held until every rank has finished its points
            withExtendedLifetime(lock) {}
        }
        let points = spec.points
        var ran = 0, skipped = 0
        for (i, point) in points.enumerated() where i % cluster.size == cluster.rank {
            let dir = (sweepDir as NSString).appendingPathComponent(point.directoryName)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let run = RunDirectory(dir), paramsPath = run.path(.params)
            let data = try JSONSerialization.data(withJSONObject: spec.params(for: point).mapValues(\.foundationObject),
                                                  options: [.prettyPrinted, .sortedKeys])
            if FileManager.default.contents(atPath: paramsPath) != data {
                if run.exists(.last) {
                    throw KDError(file: paramsPath, "differs from what sweep.json now asks for, and the run has started; move the folder away to rerun it")
                }
                try AtomicWrite.write(data, to: paramsPath)
            }
            let tag = "[\(i + 1)/\(points.count)] \(point.directoryName)"
            if run.exists(.testBestMetrics) {
                say("\(tag): finished before, skipping")
                skipped += 1
                continue
            }
            let resume = run.exists(.last)
            say("\(tag): \(resume ? "resuming" : "training")")
            // Each point is a run of its own: this process alone, whatever the job's size.
            try StudentRun.run(modelDir: dir, restore: resume ? .last : nil, context: context.solo)
            ran += 1
        }
        if cluster.isDistributed {
            let totals = cluster.allreduceSum([Double(ran), Double(skipped)])
            say("rank \(cluster.rank): \(ran) runs trained, \(skipped) already finished")
            if cluster.isRoot { say("sweep \(sweepDir): \(Int(totals[0])) runs trained, \(Int(totals[1])) already finished, over \(cluster.size) processes") }
            return (ran, skipped)
        }
        say("sweep \(sweepDir): \(ran) runs trained, \(skipped) already finished")
        return (ran, skipped)
    }
}
