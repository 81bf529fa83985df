import Foundation
import KDTestSupport
import XCTest

/// No registered model runs a naive oneDNN kernel (`ref:`) in a training step or an evaluation,
/// on this machine's ISA and, where that is above AVX2, capped to AVX2 (what most laptops
/// have). oneDNN fixes its ISA when it starts, so each ISA is audited in its own process.
final class ReferenceKernelTests: XCTestCase {
    /// One line of `kd-bench audit` (Sources/kd-bench/Audit.swift).
    private struct AuditLine: Decodable {
        let model: String, isa: String
        let reference_kernels: [String]
    }

    private func audit(environment: [String: String]) throws -> [AuditLine] {
        let r = try TestSupport.stage("kd-bench", ["audit"], environment: environment)
        let lines = try r.output.split(separator: "\n").filter { $0.hasPrefix("{") }
            .map { try JSONDecoder().decode(AuditLine.self, from: Data($0.utf8)) }
        XCTAssertEqual(Set(lines.map(\.model)).count, lines.count, "a model audited twice:\n\(r.output)")
        XCTAssertFalse(lines.isEmpty, "kd-bench audit printed no model (exit \(r.status)):\n\(r.output)")
        // The exit status agrees with the lines: 1 exactly when some model ran a reference kernel.
        XCTAssertEqual(r.status, lines.contains { !$0.reference_kernels.isEmpty } ? 1 : 0, r.output)
        return lines
    }

    func testNoModelRunsAReferenceKernelOnThisISAOrCappedToAVX2() throws {
        // The ISA this process was given (DNNL_MAX_CPU_ISA may already cap it), then AVX2.
        let native = try audit(environment: [:])
        var runs = [native]
        if let isa = native.first?.isa, isa.hasPrefix("AVX512") {
            runs.append(try audit(environment: ["DNNL_MAX_CPU_ISA": "AVX2"]))
            XCTAssertEqual(runs[1].first?.isa, "AVX2")
        }
        for line in runs.joined() {
            XCTAssert(line.reference_kernels.isEmpty,
                      "\(line.model) under \(line.isa) runs oneDNN reference kernels:\n  " + line.reference_kernels.joined(separator: "\n  "))
        }
    }
}
