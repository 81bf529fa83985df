import ArgumentParser
import Pipeline

/// The options of a training stage (teacher-train, student-distill): the run directory and the
/// checkpoint to resume from.
public struct RunOptions: ParsableArguments {
    @OptionGroup public var directory: ModelDirOption

    @Option(name: .long, help: "Resume from this checkpoint in the run directory: 'last' (after the latest epoch) or 'best'.")
    public var restoreFile: RestorePoint?

    public var modelDir: String { directory.modelDir }

    public init() {}
}
