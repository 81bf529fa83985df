import Foundation
import XCTest
import Engine
import Pipeline

/// Helpers shared by the tests: temporary folders, fixture paths, running external tools.
public enum TestSupport {
    /// Tests/Fixtures, found from this source file so it works from any working directory.
    public static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// The repository's root folder.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// A fresh temporary folder, removed when the test ends.
    public static func temporaryFolder(_ test: XCTestCase) throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("kd-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// Runs an executable found on PATH (or at a path); returns (exit status, stdout + stderr).
    /// A process killed by a signal reports the signal number as a negative status.
    @discardableResult
    public static func run(_ tool: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus
        return (status, String(decoding: data, as: UTF8.self))
    }

    /// The folder SwiftPM built the executables into (beside the test bundle).
    public static var productsFolder: URL {
        var url = Bundle(for: Marker.self).bundleURL
        while url.lastPathComponent.hasSuffix(".xctest") { url.deleteLastPathComponent() }
        return url
    }
    private final class Marker {}

    /// Runs one of the three stages; with `timeout`, under `timeout -s KILL` (a hang then ends
    /// as status 137 with no error line of the stage's own).
    @discardableResult
    public static func stage(_ name: String, _ arguments: [String], environment: [String: String] = [:],
                             timeout: Int? = nil) throws -> (status: Int32, output: String) {
        let exe = productsFolder.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: exe) else {
            throw KDError(file: exe, "was not built")
        }
        guard let timeout else { return try run(exe, arguments, environment: environment) }
        return try run("timeout", ["-s", "KILL", String(timeout), exe] + arguments, environment: environment)
    }

    /// Writes `params` as `dir/params.json`, creating `dir`.
    public static func writeParams(_ dir: String, _ params: [String: Any]) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let data = try JSONSerialization.data(withJSONObject: params, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: dir + "/params.json"))
    }

    /// Whether `tool` is on PATH.
    public static func has(_ tool: String) -> Bool {
        (try? run("sh", ["-c", "command -v \(tool)"]).status) == 0
    }
}
