/// A pattern over state_dict names, as params.json's `reinit`, `frozen` and `trainable` hold
/// them: a whole name ("fc.weight"), a prefix that ends at a dot ("fc" takes "fc.weight" and
/// "fc.bias", "layer4" every tensor of layer4), or a glob where `*` stands for any characters,
/// dots included ("*.bn*.weight").
public struct ParameterPattern: Equatable, Sendable {
    public let text: String

    public init(_ text: String) { self.text = text }

    public func matches(_ name: String) -> Bool {
        if text.contains("*") { return Self.glob(Array(text.utf8), Array(name.utf8)) }
        return name == text || name.hasPrefix(text + ".")
    }

    /// `*` matches any run of characters; everything else itself.
    private static func glob(_ p: [UInt8], _ s: [UInt8]) -> Bool {
        var (pi, si, star, mark) = (0, 0, -1, 0)
        while si < s.count {
            if pi < p.count && p[pi] != UInt8(ascii: "*") && p[pi] == s[si] {
                pi += 1; si += 1
            } else if pi < p.count && p[pi] == UInt8(ascii: "*") {
                star = pi; mark = si; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; si = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}
