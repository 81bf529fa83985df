import Foundation
import XCTest
import KDTestSupport

/// The module direction. The C libraries of the engine (oneDNN, libgomp) are imported only in
/// Sources/Shared/Engine, `internal`, so none of their types is in its public API, and their module maps
/// `require kd_engine`, a clang feature only the Engine target enables: SwiftPM hands every
/// dependent module the module maps it reaches, and this is what makes `import CDNNL` there a
/// build error. The pipeline's C libraries (HDF5, zlib) are imported only in Sources/Shared/Pipeline.
final class ModuleBoundaryTests: XCTestCase {
    private let root = URL(fileURLWithPath: TestSupport.root)
    private var sources: String { root.appendingPathComponent("Sources").path }

    /// Type-checks a file importing each engine-only module, once as any module is compiled and
    /// once with the Engine target's feature flag: the first must fail on the feature, the second
    /// (which shows the probe itself is sound) must pass.
    func testEngineCLibrariesCannotBeImportedOutsideTheEngine() throws {
        let probes = ["CDNNL": "_ = dnnl_version()", "COpenMP": "_ = omp_get_thread_num()"]
        let dir = URL(fileURLWithPath: try TestSupport.temporaryFolder(self))
        for (module, use) in probes.sorted(by: { $0.key < $1.key }) {
            let file = dir.appendingPathComponent("\(module)Probe.swift")
            try "import \(module)\n\(use)\n".write(to: file, atomically: true, encoding: .utf8)
            let map = "-fmodule-map-file=" + root.appendingPathComponent("Sources/Shared/\(module)/module.modulemap").path
            let plain = try TestSupport.run("swiftc", ["-typecheck", "-Xcc", map, file.path])
            XCTAssertNotEqual(plain.status, 0, "\(module) imported without the engine's feature")
            XCTAssertTrue(plain.output.contains("requires feature 'kd_engine'"), plain.output)
            let engine = try TestSupport.run("swiftc", ["-typecheck", "-Xcc", map, "-Xcc", "-Xclang", "-Xcc", "-fmodule-feature",
                                     "-Xcc", "-Xclang", "-Xcc", "kd_engine", file.path])
            XCTAssertEqual(engine.status, 0, "probe for \(module) does not compile in the engine: \(engine.output)")
        }
    }

    func testCLibrariesAreImportedOnlyByTheirModule() throws {
        let owners = ["CDNNL": "Engine", "COpenMP": "Engine", "CHDF5": "Pipeline", "CZlib": "Pipeline"]
        var files = 0, offenders: [String] = []
        for path in FileManager.default.subpaths(atPath: sources) ?? [] where path.hasSuffix(".swift") {
            files += 1
            let text = try String(contentsOfFile: sources + "/" + path, encoding: .utf8)
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ")
                guard let i = words.firstIndex(of: "import"), i + 1 < words.count, i <= 1 else { continue }
                if let owner = owners[String(words[i + 1])], !path.hasPrefix("Shared/" + owner + "/") {
                    offenders.append("Sources/\(path): \(line)")
                }
            }
        }
        XCTAssertGreaterThan(files, 50, "sources not found at \(sources)")
        XCTAssertEqual(offenders, [], "C libraries imported outside their module")
    }
}
