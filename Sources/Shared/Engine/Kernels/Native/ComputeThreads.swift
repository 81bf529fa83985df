internal import COpenMP

/// How many threads the engine computes on: oneDNN's OpenMP team, which the engine's own loops
/// share. By default OMP_NUM_THREADS, else one per core the process may run on.
public enum ComputeThreads {
    public static var count: Int { Int(omp_get_max_threads()) }

    /// Sets the team size for every later primitive and loop (e.g. a core's share when several
    /// processes share a machine).
    public static func set(_ count: Int) {
        precondition(count >= 1)
        omp_set_num_threads(Int32(count))
    }
}
