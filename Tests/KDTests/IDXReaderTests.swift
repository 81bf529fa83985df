import KDTestSupport
import XCTest
import Engine
import Pipeline

final class IDXReaderTests: XCTestCase {
    // MARK: - The real Fashion-MNIST files (Debian's dataset-fashion-mnist)

    func testRealFashionMNISTMatchesAnIndependentReading() throws {
        let dir = DatasetKind.fashionMNIST.defaultDirectory
        guard FileManager.default.fileExists(atPath: dir) else {
            throw XCTSkip("\(dir) is missing: `make test` installs it")
        }
        let sets = try DatasetKind.fashionMNIST.load()
        let (train, test) = (sets.train, sets.test)
        XCTAssertEqual(train.count, 60_000)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(train.imageShape, [1, 28, 28])
        XCTAssertEqual(train.numClasses, 10)
        XCTAssertEqual(train.classCounts(), [Int](repeating: 6000, count: 10))

        // Python's gzip module reads the same files without any of our code.
        let script = """
        import gzip, hashlib, sys
        d = sys.argv[1]
        for p in ("train", "t10k"):
            img = gzip.open(f"{d}/{p}-images-idx3-ubyte.gz").read()
            lab = gzip.open(f"{d}/{p}-labels-idx1-ubyte.gz").read()
            digest = hashlib.sha256(img[16:] + lab[8:]).hexdigest()
            print(int.from_bytes(img[4:8], "big"), sum(img[16:]), ",".join(str(b) for b in lab[8:28]), digest)
        """
        let reference = try TestSupport.run("python3", ["-c", script, dir])
        XCTAssertEqual(reference.status, 0, reference.output)
        let lines = reference.output.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, reference.output)
        for (line, data) in zip(lines, [train, test]) {
            let parts = line.split(separator: " ")
            XCTAssertEqual(Int(parts[0]), data.count)
            XCTAssertEqual(Int(parts[1]), data.images.reduce(0) { $0 + Int($1) }, "pixel sum")
            XCTAssertEqual(String(parts[2]), data.labels.prefix(20).map(String.init).joined(separator: ","))
        }
        // The fingerprint is SHA-256 over the image bytes then the label bytes.
        XCTAssertEqual(String(lines[1].split(separator: " ")[3]), try test.fingerprint())
    }

    // MARK: - Synthetic files

    func testReadsRawAndGzipFilesAlike() throws {
        for gzip in [false, true] {
            let dir = try TestSupport.temporaryFolder(self)
            let expected = try SyntheticData.writeIDXFolder(dir, train: 30, test: 12, rows: 5, cols: 7, gzip: gzip)
            let loaded = try DatasetKind.mnist.load(from: dir)
            XCTAssertEqual(loaded.train.images, expected.train.images)
            XCTAssertEqual(loaded.train.labels, expected.train.labels)
            XCTAssertEqual(loaded.test.labels, expected.test.labels)
            XCTAssertEqual(loaded.train.imageShape, [1, 5, 7])
        }
    }

    func testTruncatedImagesFileIsRejectedWithItsName() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let path = dir + "/imgs"
        let full = SyntheticData.idxImages(count: 3, rows: 2, cols: 2, pixels: [UInt8](repeating: 1, count: 12))
        try SyntheticData.write(Array(full.dropLast(5)), to: path)
        XCTAssertThrowsError(try IDXReader.readImages(path)) { error in
            let message = "\(error)"
            XCTAssert(message.hasPrefix(path + ": truncated"), message)
        }
        try SyntheticData.write(Array(full.prefix(10)), to: path)
        XCTAssertThrowsError(try IDXReader.readImages(path)) { XCTAssert("\($0)".contains("shorter than the 16-byte"), "\($0)") }
    }

    func testTruncatedGzipStreamIsRejected() throws {
        let dir = try TestSupport.temporaryFolder(self)
        try SyntheticData.writeIDXFolder(dir, train: 50, test: 5, gzip: true)
        let path = dir + "/train-images-idx3-ubyte.gz"
        let compressed = try Data(contentsOf: URL(fileURLWithPath: path))
        try compressed.prefix(compressed.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try IDXReader.readImages(path)) { error in
            XCTAssert("\(error)".hasPrefix(path + ": "), "\(error)")
            XCTAssert("\(error)".contains("gzip"), "\(error)")
        }
    }

    /// A gzip'ed file whose content runs far past the size its header gives (here 64 MiB of
    /// zeros after 2 images of 2x2) is an error as soon as it runs past, not inflated to the end.
    func testCompressedStreamRunningPastItsHeaderStopsThere() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let path = dir + "/imgs"
        try SyntheticData.write(SyntheticData.idxImages(count: 2, rows: 2, cols: 2, pixels: [UInt8](repeating: 7, count: 8))
                                + [UInt8](repeating: 0, count: 64 << 20), to: path)
        XCTAssertEqual(try TestSupport.run("gzip", ["-f", "-n", path]).status, 0)
        XCTAssertThrowsError(try IDXReader.readImages(path + ".gz")) {
            XCTAssertEqual("\($0)", "\(path).gz: decompressed content runs past the 24 bytes its header describes; stopped inflating there")
        }
    }

    func testWrongMagicNumbersAreRejected() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let images = dir + "/imgs", labels = dir + "/labs"
        try SyntheticData.write(SyntheticData.idxImages(count: 1, rows: 2, cols: 2, pixels: [0, 0, 0, 0], magic: 2050), to: images)
        try SyntheticData.write(SyntheticData.idxLabels([1]), to: labels)
        XCTAssertThrowsError(try IDXReader.readImages(images)) {
            XCTAssertEqual("\($0)", "\(images): wrong IDX magic number 2050, expected 2051 for images")
        }
        // A labels file passed as images says so.
        XCTAssertThrowsError(try IDXReader.readImages(labels)) { XCTAssert("\($0)".contains("looks like the labels file"), "\($0)") }
        XCTAssertThrowsError(try IDXReader.readLabels(images)) { XCTAssert("\($0)".contains("expected 2049"), "\($0)") }
    }

    func testImageAndLabelCountsMustAgree() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let images = dir + "/imgs", labels = dir + "/labs"
        try SyntheticData.write(SyntheticData.idxImages(count: 2, rows: 1, cols: 1, pixels: [1, 2]), to: images)
        try SyntheticData.write(SyntheticData.idxLabels([1, 2, 3]), to: labels)
        XCTAssertThrowsError(try IDXReader.load(name: "t", images: images, labels: labels, classNames: (0..<10).map(String.init))) {
            XCTAssertEqual("\($0)", "\(labels): has 3 labels but \(images) has 2 images")
        }
    }

    func testTrailingBytesAndOutOfRangeLabelsAreRejected() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let images = dir + "/imgs", labels = dir + "/labs"
        try SyntheticData.write(SyntheticData.idxImages(count: 1, rows: 1, cols: 1, pixels: [1, 2]), to: images)
        XCTAssertThrowsError(try IDXReader.readImages(images)) { XCTAssert("\($0)".contains("1 unexpected trailing bytes"), "\($0)") }
        try SyntheticData.write(SyntheticData.idxImages(count: 1, rows: 1, cols: 1, pixels: [1]), to: images)
        try SyntheticData.write(SyntheticData.idxLabels([10]), to: labels)
        XCTAssertThrowsError(try IDXReader.load(name: "t", images: images, labels: labels, classNames: (0..<10).map(String.init))) {
            XCTAssertEqual("\($0)", "\(labels): label 10 at row 0 is not below the class count 10")
        }
    }

    func testMissingFilesNameWhatWasLookedFor() throws {
        let dir = try TestSupport.temporaryFolder(self)
        XCTAssertThrowsError(try DatasetKind.mnist.load(from: dir)) {
            XCTAssert("\($0)".contains("train-images-idx3-ubyte: file not found (looked for train-images-idx3-ubyte.gz or train-images-idx3-ubyte)"), "\($0)")
        }
        XCTAssertThrowsError(try DatasetKind.mnist.load(from: dir + "/nope")) {
            XCTAssertEqual("\($0)", "\(dir)/nope: dataset folder for mnist not found")
        }
    }
}
