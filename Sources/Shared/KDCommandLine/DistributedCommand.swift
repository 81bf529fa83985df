import Engine
import Foundation
import Pipeline

/// What the stages wrap their work in so that they run alike alone and under `mpirun`.
public enum DistributedCommand {
    /// Starts the HDF5 probe server, joins the MPI job when started by a launcher, gives the engine this process's share of the
    /// machine's cores, and runs `body`. Under MPI an error ends the whole job (the other
    /// processes may be waiting for this one) with the message and the rank; alone, it is
    /// thrown as usual.
    public static func run(_ body: () throws -> Void) throws {
        HDF5Probe.start()  // before MPI and the engine start threads; see HDF5Probe
        let world = Cluster.world
        guard world.isDistributed else { return try body() }
        if ProcessInfo.processInfo.environment["OMP_NUM_THREADS"] == nil { ComputeThreads.set(world.coreShare) }
        do {
            try body()
        } catch {
            world.abort("error: \(error)")
        }
    }
}
