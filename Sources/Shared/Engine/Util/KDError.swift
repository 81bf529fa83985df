/// The one error type users see: a single line that names the file (and key, row or offset)
/// and what is wrong with it. CLIs print `description` and exit non-zero.
public struct KDError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) { self.message = message }

    /// "`path`: `what`", the shape of every error about a file.
    public init(file path: String, _ what: String) { self.message = "\(path): \(what)" }

    public var description: String { message }
}
