/// Where a contiguous dataset's rows lie in its file.
public struct RowLayout: Codable, Equatable, Sendable {
    public var name: String
    public var offset: Int
    public var rows: Int
    public var rowBytes: Int
}
