import ArgumentParser
import Pipeline

/// `--set key=value` (repeatable) on the three stages: params.json's keys overridden in this run
/// directory, recorded in overrides.json so that the later stages in it apply them too.
public struct ParamsOverrideOption: ParsableArguments {
    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override a params.json key, as KEY=VALUE (repeat for more). Recorded in the run directory's overrides.json, which every later stage in that directory applies too; delete the file to drop them.",
        valueName: "key=value"))
    public var assignments: [String] = []

    public init() {}

    public func validate() throws {
        do { _ = try overrides() } catch { throw ValidationError("\(error)") }
    }

    public func overrides() throws -> ParamsOverrides { try ParamsOverrides(assignments: assignments) }
}
