import CZlib
import Engine
import Foundation

/// Reads whole files, inflating gzip (or zlib) content through zlib when the name ends in `.gz`.
public enum FileBytes {
    /// The file's bytes; `.gz` files are decompressed. Errors name the file.
    ///
    /// `length`, given the bytes so far, says how many the content should have once it can
    /// tell (from a header), or nil while it cannot. A compressed stream that runs past that
    /// is an error as soon as it does (within one 1 MiB chunk), not inflated to its end.
    public static func read(_ path: String, length: (([UInt8]) -> Int?)? = nil) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw unreadable(path) }
        let raw = [UInt8](data)
        return path.hasSuffix(".gz") ? try gunzip(raw, path: path, length: length) : raw
    }

    /// The error for a file that cannot be read: missing, or there but not readable.
    public static func unreadable(_ path: String) -> KDError {
        KDError(file: path, FileManager.default.fileExists(atPath: path) ? "cannot read file (permission denied?)" : "file not found")
    }

    /// Inflates a complete gzip or zlib stream; a truncated or corrupt stream is an error.
    /// `length` as for `read`.
    public static func gunzip(_ input: [UInt8], path: String, length: (([UInt8]) -> Int?)? = nil) throws -> [UInt8] {
        var stream = z_stream()
        guard czlib_inflate_init_gzip(&stream) == Z_OK else {
            throw KDError(file: path, "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(max(input.count * 4, 1 << 16))
        let chunk = 1 << 20
        var scratch = [UInt8](repeating: 0, count: chunk)
        var status: Int32 = Z_OK
        try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            repeat {
                status = scratch.withUnsafeMutableBufferPointer { outBuf -> Int32 in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(chunk)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk - Int(stream.avail_out)
                output.append(contentsOf: scratch[0..<produced])
                if let expected = length?(output), output.count > expected {
                    throw KDError(file: path, "decompressed content runs past the \(expected) bytes its header describes; stopped inflating there")
                }
                if status == Z_BUF_ERROR && stream.avail_in == 0 { break }
                guard status == Z_OK || status == Z_STREAM_END else {
                    throw KDError(file: path, "corrupt gzip data (zlib error \(status))")
                }
            } while status != Z_STREAM_END
        }
        guard status == Z_STREAM_END else {
            throw KDError(file: path, "truncated gzip data (stream ends after \(input.count) bytes)")
        }
        return output
    }
}
