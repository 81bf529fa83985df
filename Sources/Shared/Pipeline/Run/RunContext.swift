import Engine

/// What a stage's work runs within, handed down from the command line instead of kept in
/// globals: the processes the work is shared by, and a seam that lets tests interrupt training.
public struct RunContext: Sendable {
    /// The processes this run is shared by: the MPI job, or this process alone.
    public var cluster: Cluster
    /// Called after every training batch with the number of batches the trainer has run; an
    /// error it throws ends the run there, as an interruption would (the tests' seam; the stages
    /// install `KDCommandLine.CrashHook`, which sends SIGKILL instead).
    public var afterBatch: (@Sendable (_ batchesRun: Int) throws -> Void)?

    public init(cluster: Cluster = .world, afterBatch: (@Sendable (_ batchesRun: Int) throws -> Void)? = nil) {
        self.cluster = cluster
        self.afterBatch = afterBatch
    }

    /// The same context for work this process does alone (a sweep's points).
    public var solo: RunContext { RunContext(cluster: .solo, afterBatch: afterBatch) }
}
