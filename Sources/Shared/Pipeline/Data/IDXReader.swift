import Engine
/// Reader for the IDX format of MNIST and Fashion-MNIST (raw or `.gz`).
///
/// Images: magic 2051, then count, rows, cols (big-endian u32), then count x rows x cols bytes.
/// Labels: magic 2049, then count, then count bytes. Everything is validated, and every error
/// names the file and what is wrong.
public enum IDXReader {
    public static let imagesMagic: UInt32 = 2051
    public static let labelsMagic: UInt32 = 2049

    /// Images of one IDX file: (count, rows, cols, pixels).
    public static func readImages(_ path: String) throws -> (count: Int, rows: Int, cols: Int, pixels: [UInt8]) {
        // A compressed stream is inflated only as far as the header's size.
        let bytes = try FileBytes.read(path) { head in
            head.count >= 16 ? 16 + Int(bigEndianU32(head, at: 4)) * Int(bigEndianU32(head, at: 8)) * Int(bigEndianU32(head, at: 12)) : nil
        }
        try checkHeader(bytes, path: path, magic: imagesMagic, headerBytes: 16, kind: "images")
        let count = Int(bigEndianU32(bytes, at: 4))
        let rows = Int(bigEndianU32(bytes, at: 8))
        let cols = Int(bigEndianU32(bytes, at: 12))
        guard rows > 0, cols > 0, rows <= 4096, cols <= 4096 else {
            throw KDError(file: path, "implausible image size \(rows)x\(cols)")
        }
        let expected = 16 + count * rows * cols
        try checkLength(bytes.count, expected: expected, path: path, what: "\(count) images of \(rows)x\(cols)")
        return (count, rows, cols, Array(bytes[16...]))
    }

    /// Labels of one IDX file.
    public static func readLabels(_ path: String) throws -> [UInt8] {
        let bytes = try FileBytes.read(path) { head in head.count >= 8 ? 8 + Int(bigEndianU32(head, at: 4)) : nil }
        try checkHeader(bytes, path: path, magic: labelsMagic, headerBytes: 8, kind: "labels")
        let count = Int(bigEndianU32(bytes, at: 4))
        try checkLength(bytes.count, expected: 8 + count, path: path, what: "\(count) labels")
        return Array(bytes[8...])
    }

    /// Reads an images file and a labels file into a `Dataset`, checking that they agree and that
    /// every label is below `classNames.count`.
    public static func load(name: String, images imagesPath: String, labels labelsPath: String,
                            classNames: [String]) throws -> Dataset {
        let images = try readImages(imagesPath)
        let labels = try readLabels(labelsPath)
        guard images.count == labels.count else {
            throw KDError(file: labelsPath, "has \(labels.count) labels but \(imagesPath) has \(images.count) images")
        }
        if let bad = labels.firstIndex(where: { Int($0) >= classNames.count }) {
            throw KDError(file: labelsPath, "label \(labels[bad]) at row \(bad) is not below the class count \(classNames.count)")
        }
        return Dataset(name: name, images: images.pixels, labels: labels, channels: 1,
                       height: images.rows, width: images.cols, classNames: classNames)
    }

    // MARK: - Validation

    private static func checkHeader(_ bytes: [UInt8], path: String, magic: UInt32, headerBytes: Int, kind: String) throws {
        guard bytes.count >= 4 else {
            throw KDError(file: path, "truncated: \(bytes.count) bytes, shorter than the \(headerBytes)-byte IDX \(kind) header")
        }
        let found = bigEndianU32(bytes, at: 0)
        guard found == magic else {
            let hint = found == (magic == imagesMagic ? labelsMagic : imagesMagic)
                ? " (this looks like the \(kind == "images" ? "labels" : "images") file)" : ""
            throw KDError(file: path, "wrong IDX magic number \(found), expected \(magic) for \(kind)\(hint)")
        }
        guard bytes.count >= headerBytes else {
            throw KDError(file: path, "truncated: \(bytes.count) bytes, shorter than the \(headerBytes)-byte IDX \(kind) header")
        }
    }

    private static func checkLength(_ actual: Int, expected: Int, path: String, what: String) throws {
        if actual < expected {
            throw KDError(file: path, "truncated: \(actual) bytes, the header promises \(what) (\(expected) bytes)")
        }
        if actual > expected {
            throw KDError(file: path, "\(actual - expected) unexpected trailing bytes after \(what) (\(expected) bytes)")
        }
    }

    static func bigEndianU32(_ b: [UInt8], at i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
}
