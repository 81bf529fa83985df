import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a run tells its user: lines on stdout and appended to `train.log`, and a live progress
/// bar when stdout is a terminal (plain periodic lines otherwise, for logs and CI). In a job of
/// several processes only rank 0 speaks.
public final class RunLog {
    public let path: String
    private let handle: FileHandle?
    public let isTerminal: Bool
    private let silent: Bool
    private var barShown = false

    /// Opens (appending) `train.log` in `runDir`; in a job of several processes only the root's
    /// log speaks.
    public init(runDir: String, fileName: String = "train.log", cluster: Cluster = .world) throws {
        path = (runDir as NSString).appendingPathComponent(fileName)
        silent = !cluster.isRoot
        guard !silent else {
            handle = nil
            isTerminal = false
            return
        }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw KDError(file: path, "cannot create log file (folder not writable?)")
            }
        }
        handle = FileHandle(forWritingAtPath: path)
        handle?.seekToEndOfFile()
        isTerminal = isatty(STDOUT_FILENO) != 0
    }

    deinit { try? handle?.close() }

    /// A line to the terminal and, time-stamped, to train.log.
    public func info(_ message: String) {
        guard !silent else { return }
        clearBar()
        print(message)
        fflush(nil)
        let stamp = ISO8601DateFormatter().string(from: Date())
        handle?.write(Data("\(stamp) \(message)\n".utf8))
    }

    /// Progress within an epoch: redrawn in place on a terminal, else printed every `every` batches.
    /// The ETA comes from `elapsedPerBatch`, which the trainer keeps current.
    public func progress(epoch: Int, epochs: Int, batch: Int, batches: Int, loss: Double, accuracy: Double,
                         imagesPerSecond: Double, every: Int) {
        guard !silent else { return }
        let etaSeconds = Int(Double(batches - batch) * elapsedPerBatch)
        let text = String(format: "epoch %d/%d  %d/%d  loss %.4f  acc %.2f%%  %.0f img/s  ETA %@",
                          epoch, epochs, batch, batches, loss, accuracy * 100, imagesPerSecond, Self.clock(etaSeconds))
        if isTerminal {
            let width = 24, filled = batches > 0 ? width * batch / batches : width
            let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
            print("\r[\(bar)] \(text)", terminator: "")
            fflush(nil)
            barShown = true
        } else if batch % max(every, 1) == 0 || batch == batches {
            print(text)
            fflush(nil)
        }
    }

    /// Seconds per batch so far in this epoch, set by the trainer for the ETA.
    public var elapsedPerBatch: Double = 0

    private func clearBar() {
        if barShown { print("\r\u{1B}[K", terminator: ""); barShown = false }
    }

    static func clock(_ seconds: Int) -> String {
        String(format: "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
    }
}
