import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive claim on a run directory for as long as one process works in it, so that two
/// runs (a second terminal, a sweep started twice) never train into the same checkpoints.
///
/// `flock` on the file `.lock` in the directory: the kernel releases it when the process exits
/// or dies, so a killed run never leaves a stale claim behind. The file holds the holder's
/// process id, for the message the second run gets.
///
/// A job of several processes (`cluster`) holds one claim: the root takes it, and the
/// others learn whether it did.
public final class RunLock {
    public static let fileName = ".lock"
    private let fd: Int32?

    /// Claims `directory`, or throws naming it and the process that holds it.
    public init(_ directory: String, cluster: Cluster = .world) throws {
        guard cluster.isDistributed else {
            fd = try Self.claim(directory)
            return
        }
        var claimed: Int32?, failure: Error?
        if cluster.isRoot {
            do { claimed = try Self.claim(directory) } catch { failure = error }
        }
        guard cluster.all(failure == nil) else {
            throw failure ?? KDError(file: directory, "rank 0 could not claim the run directory")
        }
        fd = claimed
    }

    private static func claim(_ directory: String) throws -> Int32 {
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw KDError(file: directory, "cannot create the lock file \(Self.fileName): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno, busy = error == EWOULDBLOCK
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            if busy {
                throw KDError(file: directory, "is in use by another run (process \(holder.isEmpty ? "?" : holder)); wait for it to finish or stop it first")
            }
            throw KDError(file: directory, "cannot lock \(Self.fileName): \(String(cString: strerror(error)))")
        }
        let pid = "\(getpid())\n"
        ftruncate(fd, 0)
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        return fd
    }

    deinit { if let fd { close(fd) } }  // closing the descriptor releases the flock
}
