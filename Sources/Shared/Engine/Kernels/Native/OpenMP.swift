internal import COpenMP

/// Runs Swift loops on oneDNN's own OpenMP threads.
///
/// oneDNN's workers spin for a while after each primitive; a Swift loop on Dispatch threads in
/// between fights them for the cores (DESIGN: never two thread pools against each other). A
/// kernel written here instead runs on the same libgomp team, exactly as oneDNN's do.
enum OpenMP {
    /// Calls `body(thread, threads)` once on every thread of an OpenMP team, concurrently, and
    /// returns when all have finished. `body` must split its work by `thread` and write only its
    /// own part.
    static func parallel(_ body: (_ thread: Int, _ threads: Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var job = Job(body: body)
            withUnsafeMutablePointer(to: &job) { context in
                GOMP_parallel({ raw in
                    let job = raw!.assumingMemoryBound(to: Job.self)
                    job.pointee.body(Int(omp_get_thread_num()), Int(omp_get_num_threads()))
                }, context, 0, 0)
            }
        }
    }

    /// Splits `0..<count` into `threads` contiguous parts and returns part `thread`.
    static func share(_ count: Int, _ thread: Int, _ threads: Int) -> Range<Int> {
        (count * thread / threads)..<(count * (thread + 1) / threads)
    }

    private struct Job { let body: (Int, Int) -> Void }
}
