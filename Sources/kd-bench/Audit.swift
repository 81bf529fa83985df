import ArgumentParser
import Engine
import Pipeline

/// One JSON line of `kd-bench audit`.
struct AuditReport: Codable {
    let model: String, isa: String, input: String
    /// Summaries of the oneDNN reference (`ref:`) kernels that ran: primitive, implementation, shapes.
    let reference_kernels: [String]
}

/// Runs one training step and one evaluation of each model and reports every oneDNN reference
/// kernel that ran. oneDNN fixes its ISA at start-up, so other ISAs are audited in other
/// processes (`DNNL_MAX_CPU_ISA=AVX2 kd-bench audit`).
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the naive oneDNN kernels a training step and an evaluation of each model run.",
        discussion: "Exits with status 1 if any model ran one. Cap the ISA with DNNL_MAX_CPU_ISA (e.g. AVX2) to see what a machine without AVX-512 gets.")

    @Option(help: "Models to audit (repeat the option); all registered models by default.")
    var model: [String] = []

    @Option(help: "Images per batch.")
    var batch: Int = 32

    @Option(help: "Shape of one image, C,H,W (repeat the option for several); 1,28,28 by default.")
    var input: [String] = []

    func run() throws {
        let shapes = try (input.isEmpty ? ["1,28,28"] : input).map { text -> [Int] in
            let parts = text.split(separator: ",").compactMap { Int($0) }
            guard parts.count == 3, parts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--input takes C,H,W, such as 3,32,32") }
            return parts
        }
        var failed = false
        for shape in shapes {
            for name in model.isEmpty ? ModelRegistry.names : model {
                ReferenceKernels.clear()
                let work = try Workload(model: name, batch: batch, input: shape)
                work.step(.train)
                work.step(.eval)
                let found = ReferenceKernels.executed
                failed = failed || !found.isEmpty
                try printJSON(AuditReport(model: name, isa: DNNL.effectiveISA, input: shape.map(String.init).joined(separator: ","),
                                          reference_kernels: found))
            }
        }
        if failed { throw ExitCode(1) }
    }
}
