import Foundation
import Pipeline

/// Lets the tests crash a stage for real: with KD_TEST_KILL_AFTER_BATCHES=N in its environment
/// a stage sends itself SIGKILL after N training batches of one run, so a test can check that
/// nothing half-written is left and that resuming gives what an uninterrupted run gives. Read
/// once when a command starts; the training loop only calls `Trainer.afterBatch`.
public enum CrashHook {
    public static let variable = "KD_TEST_KILL_AFTER_BATCHES"

    public static func installFromEnvironment() {
        guard let limit = ProcessInfo.processInfo.environment[variable].flatMap({ Int($0) }) else { return }
        Trainer.afterBatch = { batches in if batches >= limit { kill(getpid(), SIGKILL) } }
    }
}
