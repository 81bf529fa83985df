import CHDF5Probe
import Engine
import Foundation

/// Reads a file a user hands in (a logits file, a checkpoint, a decoded image cache) whole in
/// another process before this process opens it, so that a damaged file is a one-line error,
/// never a crash or a hang of the stage: every object, every attribute, every chunk index. The
/// walk runs in a small probe server that the stages fork at their start (`start()`);
/// `Sources/Shared/CHDF5Probe` has the walk and the reasons, BENCHMARKS.md the cost on a sound file.
public enum HDF5Probe {
    /// Seconds a walk may take; `KD_HDF5_PROBE_SECONDS` in the environment sets another limit,
    /// and 0 turns the probe off (for measuring what it costs: `kd-bench load`).
    public static let environmentVariable = "KD_HDF5_PROBE_SECONDS"
    static let defaultSeconds = 5.0

    /// Forks the probe server now, while this process is small and runs no threads: a stage
    /// calls it first thing. Without it the first `check` forks the server, at whatever size
    /// the process has grown to by then. A failure here is left for `check` to report.
    public static func start() {
        _ = kd_hdf5_probe_start()
    }

    /// Throws a `KDError` naming `path` unless its walk came back clean.
    public static func check(_ path: String) throws {
        guard let limit = seconds() else { return }
        var result = kd_probe_result()
        switch kd_hdf5_probe(path, limit, &result) {
        case KD_PROBE_CLEAN:
            return
        case KD_PROBE_FAILED:
            throw KDError(file: path, "damaged: the HDF5 library \(message(result))")
        case KD_PROBE_SIGNAL:
            let name = strsignal(result.signal_number).map { String(cString: $0) } ?? "?"
            throw KDError(file: path, "damaged (the HDF5 library failed reading it: signal \(result.signal_number), \(name))")
        case KD_PROBE_TIMEOUT:
            throw KDError(file: path, "damaged (the HDF5 library did not finish reading it within \(limit) s; \(environmentVariable) sets another limit)")
        default:
            throw KDError(file: path, "cannot check the file: no process to read it in could be started (\(String(cString: strerror(result.error_number))))")
        }
    }

    /// The limit, or nil when the probe is off.
    private static func seconds() -> Double? {
        guard let text = ProcessInfo.processInfo.environment[environmentVariable], let s = Double(text), s >= 0 else {
            return defaultSeconds
        }
        return s > 0 ? s : nil
    }

    private static func message(_ result: kd_probe_result) -> String {
        withUnsafeBytes(of: result.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
