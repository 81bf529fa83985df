import Foundation
import XCTest
import KDTestSupport

/// The shape the code keeps (issue 22): every function in Sources under 60 lines, and no
/// mutable global state (`nonisolated(unsafe)` static storage) below the command-line layer.
final class SourceShapeTests: XCTestCase {
    static let limit = 60

    /// Swift files under `folder` of Sources, with their text.
    private func sources(under folder: String = "") throws -> [(path: String, text: String)] {
        let root = TestSupport.root + "/Sources/" + folder
        return try (FileManager.default.subpaths(atPath: root) ?? []).filter { $0.hasSuffix(".swift") }.sorted().map {
            (folder + $0, try String(contentsOfFile: root + "/" + $0, encoding: .utf8))
        }
    }

    /// Each function, initialiser or subscript in `text` that spans `limit` lines or more
    /// (from its declaration to its closing brace), as "name (N lines) at line L".
    static func longFunctions(_ text: String, limit: Int) -> [String] {
        let lines = text.components(separatedBy: "\n")
        let declaration = try! NSRegularExpression(pattern: #"^\s*(@\w+(\([^)]*\))?\s+)*(\w+(\([^)]*\))?\s+)*(func\s+[^\s(<]+|init[?!]?|subscript)\s*[(<]"#)
        var found: [String] = []
        for (i, line) in lines.enumerated() {
            guard let m = declaration.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) else { continue }
            var depth = 0, opened = false, end = i
            scan: for j in i..<lines.count {
                for ch in code(lines[j]) {
                    if ch == "{" { depth += 1; opened = true } else if ch == "}" { depth -= 1 }
                    if opened && depth == 0 { end = j; break scan }
                }
                if !opened && j > i && lines[j].trimmingCharacters(in: .whitespaces).isEmpty { break }  // a protocol requirement
            }
            let count = end - i + 1
            if opened && count >= limit {
                let name = (line as NSString).substring(with: m.range(at: 5))
                found.append("\(name) (\(count) lines) at line \(i + 1)")
            }
        }
        return found
    }

    /// A line without its string literals and its comment, for counting braces.
    private static func code(_ line: String) -> String {
        var out = "", inString = false, previous: Character = " "
        for ch in line {
            if ch == "\"" && previous != "\\" { inString.toggle(); previous = ch; continue }
            if !inString && ch == "/" && previous == "/" { out.removeLast(); break }
            if !inString { out.append(ch) }
            previous = ch
        }
        return out
    }

    func testEveryFunctionIsUnderSixtyLines() throws {
        let files = try sources()
        XCTAssertGreaterThan(files.count, 100, "sources not found")
        let long = files.flatMap { f in Self.longFunctions(f.text, limit: Self.limit).map { "\(f.path): \($0)" } }
        XCTAssertEqual(long, [], "functions of \(Self.limit) lines or more")
    }

    /// The check above finds a long function: a made-up one of 60 lines.
    func testALongFunctionIsFound() {
        let body = (1...58).map { "    x += \($0)  // {" }.joined(separator: "\n")
        let text = "struct S {\n    public static func long(_ a: Int) -> Int {\n\(body)\n    }\n    func short() {}\n}\n"
        XCTAssertEqual(Self.longFunctions(text, limit: Self.limit), ["func long (60 lines) at line 2"])
        XCTAssertEqual(Self.longFunctions(text, limit: 61), [])
    }

    func testNoMutableStaticsBelowTheCommandLine() throws {
        let files = try sources(under: "Shared/")
        XCTAssertGreaterThan(files.count, 100, "sources not found")
        var offenders: [String] = []
        for f in files where !f.path.hasPrefix("Shared/KDCommandLine/") {
            for (i, line) in f.text.components(separatedBy: "\n").enumerated()
            where line.contains("nonisolated(unsafe)") && line.contains("static var") {
                offenders.append("\(f.path):\(i + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        XCTAssertEqual(offenders, [], "mutable statics: pass the value in instead")
    }
}
