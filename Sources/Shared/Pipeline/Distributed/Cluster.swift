import CMPI
import Engine
import Foundation

/// The processes one job is spread over, through MPI (Open MPI from Debian), or this process
/// alone.
///
/// A binary started by `mpirun` or `srun` (which set OMPI_COMM_WORLD_SIZE, PMIX_RANK or
/// PMI_RANK) joins MPI's world the first time `Cluster.world` is read; started any other way it
/// never calls into MPI and runs as a single process. A stage's `RunContext` says which the
/// current work is shared by: the world, or `solo` while a sweep runs its points one per process.
///
/// Only the main thread calls MPI (MPI_THREAD_FUNNELED). A process that fails while others wait
/// in a collective would hang them: stages call `abort` instead of returning the error (see
/// `KDCommandLine.DistributedCommand`).
public final class Cluster: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Processes of this job on this machine (all of them when unknown).
    public let localSize: Int
    private let usesMPI: Bool

    public var isRoot: Bool { rank == 0 }
    public var isDistributed: Bool { size > 1 }

    private init(rank: Int, size: Int, localSize: Int, usesMPI: Bool) {
        self.rank = rank; self.size = size; self.localSize = localSize; self.usesMPI = usesMPI
    }

    /// This process alone.
    public static let solo = Cluster(rank: 0, size: 1, localSize: 1, usesMPI: false)

    /// Every process of the job (MPI_COMM_WORLD), or `solo` when not started by an MPI launcher.
    public static let world: Cluster = {
        let env = ProcessInfo.processInfo.environment
        guard ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"].contains(where: { env[$0] != nil }) else { return solo }
        var provided: Int32 = 0
        guard MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided) == MPI_SUCCESS else {
            FileHandle.standardError.write(Data("error: MPI_Init_thread failed\n".utf8))
            exit(1)
        }
        atexit { var done: Int32 = 0; MPI_Finalized(&done); if done == 0 { MPI_Finalize() } }
        var rank: Int32 = 0, size: Int32 = 1
        MPI_Comm_rank(cmpi_comm_world(), &rank)
        MPI_Comm_size(cmpi_comm_world(), &size)
        let local = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? env["SLURM_NTASKS_PER_NODE"].flatMap(Int.init) ?? Int(size)
        return Cluster(rank: Int(rank), size: Int(size), localSize: max(1, local), usesMPI: true)
    }()

    /// This process's share of the machine's cores: cores / processes on this machine, at least 1.
    public var coreShare: Int { max(1, ProcessInfo.processInfo.activeProcessorCount / localSize) }

    /// The contiguous part of `0..<count` that this process takes: rank r of n gets
    /// ceil(count * r / n) ..< ceil(count * (r + 1) / n), so the root's part is never empty
    /// when count > 0.
    public func share(of count: Int) -> Range<Int> {
        ((count * rank + size - 1) / size)..<((count * (rank + 1) + size - 1) / size)
    }

    // MARK: - Collectives (no-ops for a single process)

    public func barrier() {
        guard isDistributed else { return }
        check(MPI_Barrier(cmpi_comm_world()), "MPI_Barrier")
    }

    /// Sums `count` floats at `values` over every process, in place.
    public func allreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) {
        guard isDistributed else { return }
        var offset = 0
        while offset < count {  // MPI counts are 32-bit
            let n = min(count - offset, Int(Int32.max))
            check(MPI_Allreduce(cmpi_in_place(), values + offset, Int32(n), cmpi_float(), cmpi_sum(), cmpi_comm_world()), "MPI_Allreduce")
            offset += n
        }
    }

    /// The element-wise sums of `values` over every process.
    public func allreduceSum(_ values: [Double]) -> [Double] {
        guard isDistributed else { return values }
        var out = values
        check(MPI_Allreduce(cmpi_in_place(), &out, Int32(out.count), cmpi_double(), cmpi_sum(), cmpi_comm_world()), "MPI_Allreduce")
        return out
    }

    /// Whether `ok` holds on every process.
    public func all(_ ok: Bool) -> Bool {
        guard isDistributed else { return ok }
        var flag: Int32 = ok ? 1 : 0
        check(MPI_Allreduce(cmpi_in_place(), &flag, 1, cmpi_int32(), cmpi_min(), cmpi_comm_world()), "MPI_Allreduce")
        return flag == 1
    }

    /// The root's `bytes`, on every process.
    public func broadcast(_ bytes: [UInt8]) -> [UInt8] {
        guard isDistributed else { return bytes }
        var count = Int32(bytes.count)
        check(MPI_Bcast(&count, 1, cmpi_int32(), 0, cmpi_comm_world()), "MPI_Bcast")
        var out = isRoot ? bytes : [UInt8](repeating: 0, count: Int(count))
        check(out.withUnsafeMutableBytes { MPI_Bcast($0.baseAddress, count, cmpi_byte(), 0, cmpi_comm_world()) }, "MPI_Bcast")
        return out
    }

    /// Runs `body` on the root first and on the others after it finished, e.g. so that the root
    /// fills a cache the others then read.
    public func rootFirst<T>(_ body: () throws -> T) rethrows -> T {
        guard isDistributed else { return try body() }
        if isRoot {
            let value = try body()
            barrier()
            return value
        }
        barrier()
        return try body()
    }

    /// Prints `message` with this process's rank and ends the whole job (MPI_Abort): the others
    /// may be waiting for this one in a collective.
    public func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data("rank \(rank)/\(size): \(message)\n".utf8))
        if usesMPI { MPI_Abort(cmpi_comm_world(), 1) }
        exit(1)
    }

    private func check(_ status: Int32, _ what: String) {
        if status != MPI_SUCCESS { abort("\(what) failed with MPI error \(status)") }
    }
}
