import Foundation
import Pipeline

/// Lets the tests crash a stage for real: with KD_TEST_KILL_AFTER_BATCHES=N in its environment
/// a stage sends itself SIGKILL after N training batches of one run, so a test can check that
/// nothing half-written is left and that resuming gives what an uninterrupted run gives. The
/// stages run in `CrashHook.context`; the training loop calls its `afterBatch`.
public enum CrashHook {
    public static let variable = "KD_TEST_KILL_AFTER_BATCHES"

    /// The context a stage's work runs in: the MPI job (or this process), and the hook when the
    /// environment asks for it.
    public static var context: RunContext {
        guard let limit = ProcessInfo.processInfo.environment[variable].flatMap({ Int($0) }) else { return RunContext() }
        return RunContext(afterBatch: { batches in if batches >= limit { kill(getpid(), SIGKILL) } })
    }
}
