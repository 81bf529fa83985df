/// Which checkpoint of a run directory to resume from or export.
public enum RestorePoint: String, CaseIterable, Codable, Sendable {
    /// `last.h5`, written after every epoch.
    case last
    /// `best.h5`, the weights with the highest validation accuracy so far.
    case best

    public var fileName: String { rawValue + ".h5" }
}

/// Thrown by a stage whose work is not built yet, so nobody mistakes a stub for a result.
public struct StageNotReady: Error, CustomStringConvertible {
    public let stage: String
    public init(stage: String) { self.stage = stage }
    public var description: String { "\(stage): this stage is not implemented yet (see the open pipeline issue); nothing was written" }
}
