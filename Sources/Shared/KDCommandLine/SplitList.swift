import ArgumentParser
import Pipeline

/// A comma-separated list of split names ("train,val,test"); anything else is a usage error.
public struct SplitList: ExpressibleByArgument, Sendable {
    public var splits: [SplitName]

    public init(_ splits: [SplitName]) { self.splits = splits }

    public init?(argument: String) {
        let names = argument.split(separator: ",").map { SplitName(rawValue: String($0)) }
        guard !names.isEmpty, names.allSatisfy({ $0 != nil }) else { return nil }
        splits = names.compactMap { $0 }
    }

    public var defaultValueDescription: String { splits.map(\.rawValue).joined(separator: ",") }
    public static var allValueStrings: [String] { SplitName.allCases.map(\.rawValue) }
}
