import Foundation
import XCTest

/// The module direction, checked on the sources: the C libraries of the engine (oneDNN,
/// libgomp) are imported only in Sources/Engine and those of the pipeline (HDF5, zlib) only in
/// Sources/Pipeline. The engine imports them `internal`, so none of their types is in its
/// public API; SwiftPM still lets any module import a system library it reaches through a
/// dependency, so this test is what stops a stray `import CDNNL` in the pipeline.
final class ModuleBoundaryTests: XCTestCase {
    private let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources").path

    func testCLibrariesAreImportedOnlyByTheirModule() throws {
        let owners = ["CDNNL": "Engine", "COpenMP": "Engine", "CHDF5": "Pipeline", "CZlib": "Pipeline"]
        var files = 0, offenders: [String] = []
        for path in FileManager.default.subpaths(atPath: sources) ?? [] where path.hasSuffix(".swift") {
            files += 1
            let text = try String(contentsOfFile: sources + "/" + path, encoding: .utf8)
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ")
                guard let i = words.firstIndex(of: "import"), i + 1 < words.count, i <= 1 else { continue }
                if let owner = owners[String(words[i + 1])], !path.hasPrefix(owner + "/") {
                    offenders.append("Sources/\(path): \(line)")
                }
            }
        }
        XCTAssertGreaterThan(files, 50, "sources not found at \(sources)")
        XCTAssertEqual(offenders, [], "C libraries imported outside their module")
    }
}
