import Engine

extension Dataset {
    /// Copies the images of samples `indices`, in that order, to `destination` (room for
    /// indices.count images).
    public func copyImages(_ indices: [Int], into destination: UnsafeMutablePointer<UInt8>) throws {
        let size = imageSize
        switch pixels {
        case .memory(let bytes):
            bytes.withUnsafeBufferPointer { src in
                for (k, i) in indices.enumerated() {
                    (destination + k * size).update(from: src.baseAddress! + storedRow(i) * size, count: size)
                }
            }
        case .file(let file):
            try file.gather(indices.map(storedRow), into: destination)
        }
    }

    /// Calls `body` with the images of every sample in order, a block of at most `blockRows`
    /// samples at a time, and the samples that block holds: bounded memory for any size.
    public func forEachImageBlock(blockRows: Int = 4096, _ body: (UnsafeBufferPointer<UInt8>, Range<Int>) throws -> Void) throws {
        if case .memory(let bytes) = pixels, rows == nil {
            try bytes.withUnsafeBufferPointer { try body($0, 0..<count) }
            return
        }
        let size = imageSize
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, min(blockRows, count) * size))
        defer { buffer.deallocate() }
        for start in stride(from: 0, to: count, by: blockRows) {
            let block = start..<min(start + blockRows, count)
            try copyImages(Array(block), into: buffer)
            try body(UnsafeBufferPointer(start: buffer, count: block.count * size), block)
        }
    }

    /// Every image in order as one array: for tests and small data (it holds them all).
    public var images: [UInt8] {
        var out = [UInt8](repeating: 0, count: count * imageSize)
        out.withUnsafeMutableBufferPointer { dst in
            guard let base = dst.baseAddress else { return }
            // An in-memory copy cannot fail; a file that cannot be read here is a broken invariant.
            do { try copyImages(Array(0..<count), into: base) } catch { preconditionFailure("\(error)") }
        }
        return out
    }

    /// SHA-256 (hex) over the image bytes followed by the label bytes, in sample order. Stamped
    /// into every logits file so a student can tell which data a file belongs to. Labels count
    /// as one byte each when there are at most 256 classes (as before labels were Int32, so
    /// older files keep their fingerprint), else as four little-endian bytes.
    /// Complexity: O(count x imageSize), read in blocks; about 0.2 s for Fashion-MNIST's training set.
    public func fingerprint() throws -> String {
        try fingerprintMemo.get(computeFingerprint)
    }

    private func computeFingerprint() throws -> String {
        var h = SHA256()
        try forEachImageBlock { block, _ in h.update(UnsafeRawBufferPointer(block)) }
        if numClasses <= 256 {
            labels.map { UInt8(truncatingIfNeeded: $0) }.withUnsafeBytes { h.update($0) }
        } else {
            labels.withUnsafeBytes { h.update($0) }  // little-endian on every machine this runs on
        }
        return h.finalizeHex()
    }
}
