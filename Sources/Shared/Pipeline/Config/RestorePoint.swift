/// Which checkpoint of a run directory to resume from or export.
public enum RestorePoint: String, CaseIterable, Codable, Sendable {
    /// `last.h5`, written after every epoch.
    case last
    /// `best.h5`, the weights with the highest validation accuracy so far.
    case best

    public var file: RunDirectory.File { self == .last ? .last : .best }
}
