#if canImport(Glibc)
import Glibc
#endif

/// The process's peak resident set size so far, in MiB (getrusage).
public func peakResidentMiB() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss / 1024  // kilobytes on Linux
}
