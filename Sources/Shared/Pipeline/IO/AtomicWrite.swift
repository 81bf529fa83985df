import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes that never leave a half file under a final name.
///
/// The content goes to a hidden temporary file in the destination's folder (same file system,
/// so the rename is atomic), is fsync'ed, then renamed over the destination, and the folder is
/// fsync'ed so the rename itself survives a crash. On any error the temporary file is removed
/// and the destination is untouched.
public enum AtomicWrite {
    /// Calls `body` with a temporary path to fill, then moves it to `path`.
    public static func write(to path: String, _ body: (_ temporaryPath: String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw KDError(file: path, "cannot write: folder \(folder) does not exist")
        }
        guard access(folder, W_OK) == 0 else {
            throw KDError(file: path, "cannot write: folder \(folder) is not writable")
        }
        let temporary = folder + "/." + url.lastPathComponent + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        do {
            try body(temporary)
            try fsyncPath(temporary)
            guard rename(temporary, path) == 0 else {
                throw KDError(file: path, "cannot rename temporary file into place: \(String(cString: strerror(errno)))")
            }
        } catch let error as KDError {
            unlink(temporary)
            // The user knows the file by its final name, not the hidden temporary one.
            throw KDError(error.message.replacingOccurrences(of: temporary, with: path))
        } catch {
            unlink(temporary)
            throw error
        }
        try? fsyncPath(folder)
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { tmp in
            guard FileManager.default.createFile(atPath: tmp, contents: data) else {
                throw KDError(file: path, "cannot write: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Writes `text` (UTF-8) to `path` atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    private static func fsyncPath(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw KDError(file: path, "cannot open for fsync: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw KDError(file: path, "fsync failed: \(String(cString: strerror(errno)))") }
    }
}
