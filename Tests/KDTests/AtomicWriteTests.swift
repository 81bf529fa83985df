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
        guard getuid() != 0 else { return }  // root writes anywhere; the check above still ran
        try FileManager.default.setAttributes([.posixPermissions: 0o500], ofItemAtPath: dir)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dir) }
        XCTAssertThrowsError(try AtomicWrite.write("x", to: dir + "/file.json")) { XCTAssert("\($0)".contains("is not writable")) }
    }
}
