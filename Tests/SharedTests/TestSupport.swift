import Foundation
import XCTest
import Shared

/// Helpers shared by the tests: temporary folders, fixture paths, running external tools.
enum TestSupport {
    /// Tests/Fixtures, found from this source file so it works from any working directory.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// A fresh temporary folder, removed when the test ends.
    static func temporaryFolder(_ test: XCTestCase) throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("kd-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// Runs an executable found on PATH; returns (exit status, stdout + stderr).
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Whether `tool` is on PATH.
    static func has(_ tool: String) -> Bool {
        (try? run("sh", ["-c", "command -v \(tool)"]).status) == 0
    }
}
