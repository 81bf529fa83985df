import Foundation
import XCTest
import KDTestSupport
import Pipeline

/// README's params reference against `Params.table`, the one list of keys: every key has a row
/// (a row may name several keys, each in backticks in its first cell), and every key a row
/// names exists.
final class ParamsTableTests: XCTestCase {
    /// The keys named in the first cells of README's "Reference: params.json" table.
    static func readmeKeys(_ readme: String) -> [String] {
        guard let start = readme.range(of: "## Reference: params.json") else { return [] }
        let section = readme[start.upperBound...]
        var keys: [String] = []
        for line in section.split(separator: "\n") {
            if line.hasPrefix("#") { break }
            guard line.hasPrefix("| `") else { continue }
            let cell = line.dropFirst(2).prefix { $0 != "|" }
            keys += cell.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        }
        return keys
    }

    func testEveryParamsKeyHasAReadmeRow() throws {
        let readme = try String(contentsOfFile: TestSupport.root + "/README.md", encoding: .utf8)
        let documented = Self.readmeKeys(readme)
        XCTAssertGreaterThan(documented.count, 40, "README's params table not found")
        XCTAssertEqual(Params.keys.filter { !documented.contains($0) }, [], "keys without a README row")
        XCTAssertEqual(documented.filter { !Params.keys.contains($0) }, [], "README rows for keys params.json does not know")
    }

    /// The check above fails for a key without a row: README with the `temperature` row's key
    /// cell spelt otherwise.
    func testAKeyWithoutItsRowIsFound() throws {
        let readme = try String(contentsOfFile: TestSupport.root + "/README.md", encoding: .utf8)
        let edited = readme.replacingOccurrences(of: "| `alpha`, `temperature`, `kl_reduction` |", with: "| `alpha`, `kl_reduction` |")
        XCTAssertNotEqual(edited, readme, "the temperature row moved; update this test")
        XCTAssertFalse(Self.readmeKeys(edited).contains("temperature"))
        XCTAssertTrue(Self.readmeKeys(readme).contains("temperature"))
    }
}
