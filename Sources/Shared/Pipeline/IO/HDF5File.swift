import CHDF5
import Engine
import Foundation

/// An open HDF5 file: datasets and attributes addressed by path ("conv1.weight",
/// "optimizer/step"), typed reads and writes, one-line errors that name the file and object.
///
/// Not thread-safe (Debian's serial HDF5 is not); use one file from one thread.
/// Closed on `close()` or when released.
public final class HDF5File {
    public let path: String
    let id: hid_t
    private var isOpen = true

    /// HDF5's automatic error printing goes to stderr as a multi-line stack; switch it off once
    /// and report failures as `KDError`s instead. Also keep HDF5 from closing files at
    /// exit: after a failed write (a full disk) a file cannot be flushed or closed, and HDF5's
    /// own exit handler then crashed on it (SIGSEGV after the error was reported).
    private static let silenced: Bool = {
        _ = H5dont_atexit()
        _ = H5open()
        chdf5_silence_errors()
        return true
    }()

    private init(path: String, id: hid_t) {
        self.path = path
        self.id = id
    }

    /// Creates (or truncates) a file for writing. Prefer `AtomicWrite` around it for outputs.
    public static func create(_ path: String) throws -> HDF5File {
        _ = silenced
        let id = H5Fcreate(path, chdf5_f_acc_trunc(), chdf5_p_default(), chdf5_p_default())
        guard id >= 0 else { throw failure(path, "cannot create HDF5 file") }
        return HDF5File(path: path, id: id)
    }

    /// Opens an existing file. A missing file, or one that is not HDF5, is one clear error; a
    /// file opened for reading is first walked in another process (`HDF5Probe`: every object,
    /// attribute and chunk index), so that a damaged one is an error too, not a crash or a hang
    /// inside the HDF5 library.
    public static func open(_ path: String, writable: Bool = false) throws -> HDF5File {
        _ = silenced
        guard FileManager.default.fileExists(atPath: path) else { throw KDError(file: path, "file not found") }
        guard H5Fis_hdf5(path) > 0 else {
            throw KDError(file: path, "not an HDF5 file (corrupt or truncated?)")
        }
        if !writable { try HDF5Probe.check(path) }
        let id = H5Fopen(path, writable ? chdf5_f_acc_rdwr() : chdf5_f_acc_rdonly(), chdf5_p_default())
        guard id >= 0 else { throw failure(path, "cannot open HDF5 file (corrupt or truncated?)") }
        return HDF5File(path: path, id: id)
    }

    /// Flushes and closes; errors at close (e.g. disk full) are reported.
    public func close() throws {
        guard isOpen else { return }
        isOpen = false
        guard H5Fclose(id) >= 0 else { throw failure("cannot close file (disk full?)") }
    }

    deinit { if isOpen { H5Fclose(id) } }

    // MARK: - Objects

    /// Whether a dataset or group exists at `name` (intermediate groups are checked too).
    public func exists(_ name: String) -> Bool {
        var prefix = ""
        for part in name.split(separator: "/") {
            prefix += (prefix.isEmpty ? "" : "/") + part
            if H5Lexists(id, prefix, chdf5_p_default()) <= 0 { return false }
        }
        return true
    }

    /// Names of the datasets and groups directly inside `group`, in name order.
    public func children(of group: String = "/") throws -> [String] {
        let list = HDF5NameList()
        var index: hsize_t = 0
        let status = list.collect { box in
            H5Literate_by_name(id, group, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, _, data in HDF5NameList.append(data, name) },
                               box, chdf5_p_default())
        }
        guard status >= 0 else { throw failure("cannot list group '\(group)'") }
        return list.names
    }

    /// Removes the dataset or group at `name` (its link; the space is not reclaimed).
    public func remove(_ name: String) throws {
        guard H5Ldelete(id, name, chdf5_p_default()) >= 0 else { throw failure("cannot remove '\(name)'") }
    }

    /// Creates `name` as a group, with any missing parents.
    public func createGroup(_ name: String) throws {
        let lcpl = H5Pcreate(chdf5_p_link_create())
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let g = H5Gcreate2(id, name, lcpl, chdf5_p_default(), chdf5_p_default())
        guard g >= 0 else { throw failure("cannot create group '\(name)'") }
        H5Gclose(g)
    }

    // MARK: - Errors

    /// A `KDError` for this file, with HDF5's innermost message appended.
    func failure(_ what: String) -> KDError { Self.failure(path, what) }

    static func failure(_ path: String, _ what: String) -> KDError {
        let detail = conciseHDF5Detail(innermostHDF5Message())
        H5Eclear2(chdf5_e_default())
        return KDError(file: path, detail.isEmpty ? what : "\(what) (HDF5: \(detail))")
    }

    /// One line from HDF5's message: for a failed system call only its reason ("No space left on
    /// device"); HDF5 spells those over several lines with buffer addresses and offsets.
    private static func conciseHDF5Detail(_ message: String) -> String {
        if let start = message.range(of: "error message = '"),
           let end = message[start.upperBound...].firstIndex(of: "'") {
            return String(message[start.upperBound..<end])
        }
        return message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }

    /// The description at the bottom of HDF5's error stack: the most specific reason.
    private static func innermostHDF5Message() -> String {
        final class Box { var message = "" }
        let box = Box()
        withExtendedLifetime(box) {
            _ = H5Ewalk2(chdf5_e_default(), H5E_WALK_UPWARD, { n, desc, data in
                let box = Unmanaged<Box>.fromOpaque(data!).takeUnretainedValue()
                if n == 0, let d = desc?.pointee.desc { box.message = String(cString: d) }
                return 0
            }, Unmanaged.passUnretained(box).toOpaque())
        }
        return box.message
    }
}
