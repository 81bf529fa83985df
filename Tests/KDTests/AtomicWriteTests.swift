import KDTestSupport
import XCTest
import Engine
import Pipeline

final class AtomicWriteTests: XCTestCase {
    func testReplacesTheFileAndLeavesNoTemporaries() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let path = dir + "/metrics.json"
        try AtomicWrite.write("old", to: path)
        try AtomicWrite.write("new", to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "new")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["metrics.json"])
    }

    func testAFailedWriteKeepsTheOldFileAndRemovesTheTemporary() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let path = dir + "/best.h5"
        try AtomicWrite.write("precious", to: path)
        struct Crash: Error {}
        XCTAssertThrowsError(try AtomicWrite.write(to: path) { tmp in
            let f = try HDF5File.create(tmp)
            try f.write("half", [Float(1)], shape: [1])
            throw Crash()
        })
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "precious")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["best.h5"])
    }

    func testMissingOrUnwritableFolderIsANamedError() throws {
        let dir = try TestSupport.temporaryFolder(self)
        XCTAssertThrowsError(try AtomicWrite.write("x", to: dir + "/nope/file.json")) {
            XCTAssertEqual("\($0)", "\(dir)/nope/file.json: cannot write: folder \(dir)/nope does not exist")
        }
        // A process's /proc folder is not writable even for root (who writes anywhere else, CI included).
        XCTAssertThrowsError(try AtomicWrite.write("x", to: "/proc/1/file.json")) {
            XCTAssertEqual("\($0)", "/proc/1/file.json: cannot write: folder /proc/1 is not writable")
        }
    }
}
