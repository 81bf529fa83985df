import KDTestSupport
import XCTest
import Engine
import Pipeline

final class HDF5Tests: XCTestCase {
    func testRoundTripOfEveryElementTypeAndAttribute() throws {
        let path = try TestSupport.temporaryFolder(self) + "/roundtrip.h5"
        let floats: [Float] = [0, -1.5, .greatestFiniteMagnitude, 1e-30, 3, 4]
        let doubles: [Double] = [.pi, -0.0, 1e300]
        let int32s: [Int32] = [.min, -1, 0, .max]
        let int64s: [Int64] = [.min, 1 << 40, .max]
        let bytes: [UInt8] = [0, 1, 128, 255]
        do {
            let f = try HDF5File.create(path)
            try f.write("conv1.weight", floats, shape: [2, 3])
            try f.write("nested/group/doubles", doubles, shape: [3])
            try f.write("int32", int32s, shape: [2, 2], chunkRows: 1, gzipLevel: 6)
            try f.write("int64", int64s, shape: [3])
            try f.write("uint8", bytes, shape: [4, 1])
            try f.write("empty", [Float](), shape: [0, 10])
            try f.setAttribute("format_version", .int(1))
            try f.setAttribute("teacher_accuracy", .double(0.9375))
            try f.setAttribute("dataset", .string("fashion-mnist ✓ ünïcode"))
            try f.setAttribute("unit", .string("logit"), on: "conv1.weight")
            try f.setAttribute("format_version", .int(2))  // replaces
            try f.close()
        }
        let f = try HDF5File.open(path)
        XCTAssertEqual(try f.read("conv1.weight", as: Float.self).values, floats)
        XCTAssertEqual(try f.read("conv1.weight", as: Float.self).shape, [2, 3])
        XCTAssertEqual(try f.read("nested/group/doubles", as: Double.self).values, doubles)
        XCTAssertEqual(try f.read("int32", as: Int32.self).values, int32s)
        XCTAssertEqual(try f.read("int64", as: Int64.self).values, int64s)
        XCTAssertEqual(try f.read("uint8", as: UInt8.self).shape, [4, 1])
        XCTAssertEqual(try f.read("uint8", as: UInt8.self).values, bytes)
        XCTAssertEqual(try f.shape(of: "empty"), [0, 10])
        XCTAssertEqual(try f.intAttribute("format_version"), 2)
        XCTAssertEqual(try f.doubleAttribute("teacher_accuracy"), 0.9375)
        XCTAssertEqual(try f.stringAttribute("dataset"), "fashion-mnist ✓ ünïcode")
        XCTAssertEqual(try f.stringAttribute("unit", of: "conv1.weight"), "logit")
        XCTAssertNil(try f.attribute("missing"))
        XCTAssertEqual(try f.children(), ["conv1.weight", "empty", "int32", "int64", "nested", "uint8"])
        XCTAssert(f.exists("nested/group/doubles"))
        XCTAssertFalse(f.exists("nested/nothing/doubles"))
    }

    func testReadRowsReturnsARowRange() throws {
        let path = try TestSupport.temporaryFolder(self) + "/rows.h5"
        let values = (0..<60).map { Float($0) }
        let f = try HDF5File.create(path)
        try f.write("logits", values, shape: [20, 3], chunkRows: 4, gzipLevel: 4)
        XCTAssertEqual(try f.readRows("logits", 5..<7, as: Float.self), Array(values[15..<21]))
        XCTAssertEqual(try f.readRows("logits", 19..<20, as: Float.self), [57, 58, 59])
        XCTAssertThrowsError(try f.readRows("logits", 18..<21, as: Float.self)) {
            XCTAssertEqual("\($0)", "\(path): dataset 'logits' of shape [20, 3] has no rows 18..<21")
        }
    }

    func testWrongElementKindAndMissingObjectsAreNamedErrors() throws {
        let path = try TestSupport.temporaryFolder(self) + "/kinds.h5"
        let f = try HDF5File.create(path)
        try f.write("labels", [Int32(1), 2], shape: [2])
        XCTAssertThrowsError(try f.read("labels", as: Float.self)) {
            XCTAssertEqual("\($0)", "\(path): dataset 'labels' does not hold floating-point values (HDF5 type class 0)")
        }
        XCTAssertThrowsError(try f.read("logits", as: Float.self)) { XCTAssertEqual("\($0)", "\(path): has no dataset 'logits'") }
        XCTAssertThrowsError(try f.write("bad", [Float(1)], shape: [2])) { XCTAssert("\($0)".contains("do not fill shape [2]")) }
        XCTAssertThrowsError(try f.stringAttribute("dataset")) { XCTAssertEqual("\($0)", "\(path): attribute 'dataset' is missing or not a string") }
    }

    /// h5dump (Debian's hdf5-tools) reads what this code writes.
    func testH5dumpReadsOurFile() throws {
        guard TestSupport.has("h5dump") else { throw XCTSkip("h5dump is missing: `make test` installs it") }
        let path = try TestSupport.temporaryFolder(self) + "/dump.h5"
        let f = try HDF5File.create(path)
        try f.write("fc.weight", [Float(0.5), -2, 3.25, 4], shape: [2, 2], chunkRows: 1, gzipLevel: 1)
        try f.write("labels", [Int64(7), 8], shape: [2])
        try f.setAttribute("split", .string("val"))
        try f.close()
        let dump = try TestSupport.run("h5dump", [path])
        XCTAssertEqual(dump.status, 0, dump.output)
        XCTAssert(dump.output.contains("DATASET \"fc.weight\""), dump.output)
        XCTAssert(dump.output.contains("H5T_IEEE_F32LE"), dump.output)
        XCTAssert(dump.output.contains("(0,0): 0.5, -2,"), dump.output)
        XCTAssert(dump.output.contains("(1,0): 3.25, 4"), dump.output)
        XCTAssert(dump.output.contains("H5T_STD_I64LE"), dump.output)
        XCTAssert(dump.output.contains("\"val\""), dump.output)
    }

    /// A file written by h5py (scripts/make_fixtures.py) reads back with the values h5py stored.
    func testReadsAFileWrittenByH5py() throws {
        let f = try HDF5File.open(TestSupport.fixtures + "/h5py_interop.h5")
        let f32 = try f.read("float32", as: Float.self)
        XCTAssertEqual(f32.shape, [3, 4])
        XCTAssertEqual(f32.values, (0..<12).map { Float($0) / 8 - 0.5 })
        XCTAssertEqual(try f.read("float64", as: Double.self).values, [1e-300, -2.5, Double.pi])
        XCTAssertEqual(try f.read("int32", as: Int32.self).values, [-7, 0, Int32.max, Int32.min])
        XCTAssertEqual(try f.read("int64", as: Int64.self).values, [1 << 40, -3])
        XCTAssertEqual(try f.read("uint8", as: UInt8.self).values, [0, 128, 255])
        XCTAssertEqual(try f.read("group/chunked", as: Float.self).values, (0..<1000).map(Float.init))
        XCTAssertEqual(try f.readRows("group/chunked", 30..<32, as: Float.self), (300..<320).map(Float.init))
        XCTAssertEqual(try f.stringAttribute("vlen_string"), "Ankle boot ✓")
        XCTAssertEqual(try f.stringAttribute("fixed_string"), "fixed")
        XCTAssertEqual(try f.intAttribute("int"), -42)
        XCTAssertEqual(try f.doubleAttribute("double"), 0.125)
        XCTAssertEqual(try f.stringAttribute("unit", of: "float32"), "logit")
    }

    func testCorruptAndMissingFilesGiveOneClearError() throws {
        let dir = try TestSupport.temporaryFolder(self)
        // Not HDF5 at all.
        let garbage = dir + "/garbage.h5"
        try SyntheticData.write([UInt8](repeating: 7, count: 4096), to: garbage)
        XCTAssertThrowsError(try HDF5File.open(garbage)) {
            XCTAssertEqual("\($0)", "\(garbage): not an HDF5 file (corrupt or truncated?)")
        }
        // A real file cut in half: the signature survives, the data does not.
        let good = dir + "/good.h5", cut = dir + "/cut.h5"
        let f = try HDF5File.create(good)
        try f.write("x", (0..<20000).map { Float($0) }, shape: [20000])
        try f.close()
        let bytes = try FileBytes.read(good)
        try SyntheticData.write(Array(bytes.prefix(bytes.count / 2)), to: cut)
        do {
            let g = try HDF5File.open(cut)
            _ = try g.read("x", as: Float.self)
            XCTFail("reading a truncated file succeeded")
        } catch {
            let message = "\(error)"
            XCTAssert(message.hasPrefix(cut + ": "), message)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)")
        }
        XCTAssertThrowsError(try HDF5File.open(dir + "/absent.h5")) { XCTAssertEqual("\($0)", "\(dir)/absent.h5: file not found") }
    }
}
