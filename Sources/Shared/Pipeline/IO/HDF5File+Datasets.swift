import Engine
import CHDF5

// MARK: - Datasets

extension HDF5File {
    /// Writes `values` as a new dataset of `shape` (row-major). Every non-scalar dataset carries
    /// HDF5's fletcher32 checksum (read back by HDF5 itself, so h5py and PyTorch open it as
    /// before), which makes a flipped byte a read error instead of a wrong number; the filter
    /// needs chunking, by `chunkRows` rows of the first dimension when given, else one chunk.
    /// `gzipLevel` (1-9) compresses. Missing parent groups are created.
    public func write<T: HDF5Element>(_ name: String, _ values: [T], shape: [Int],
                                      chunkRows: Int = 0, gzipLevel: Int = 0) throws {
        let elements = shape.reduce(1, *)
        guard elements == values.count else {
            throw KDError(file: path, "dataset '\(name)': \(values.count) values do not fill shape \(shape)")
        }
        let ds = try createDataset(name, T.self, shape: shape) { dcpl in
            guard !shape.isEmpty && elements > 0 else { return }
            var chunk = shape.map { hsize_t($0) }
            chunk[0] = hsize_t(max(1, min(chunkRows > 0 ? chunkRows : shape[0], shape[0])))
            H5Pset_chunk(dcpl, Int32(chunk.count), &chunk)
            if gzipLevel > 0 {
                H5Pset_shuffle(dcpl)
                H5Pset_deflate(dcpl, UInt32(min(gzipLevel, 9)))
            }
            H5Pset_fletcher32(dcpl)  // last: it checks the bytes as stored, after compression
        }
        defer { H5Dclose(ds) }
        let status = values.withUnsafeBytes {
            H5Dwrite(ds, T.memoryType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress)
        }
        guard status >= 0 else { throw failure("cannot write dataset '\(name)'") }
    }

    /// The shape of dataset `name`.
    public func shape(of name: String) throws -> [Int] {
        let ds = try openDataset(name)
        defer { H5Dclose(ds) }
        return try dims(ds, name)
    }

    /// Reads the whole of dataset `name`. The stored element type must be of the same kind
    /// (floating point for Float/Double, integer for the integer types).
    public func read<T: HDF5Element>(_ name: String, as type: T.Type = T.self) throws -> (values: [T], shape: [Int]) {
        let ds = try openDataset(name)
        defer { H5Dclose(ds) }
        try checkClass(ds, name, T.self)
        let shape = try dims(ds, name)
        let count = shape.reduce(1, *)
        var values = [T](repeating: 0, count: count)
        if count > 0 {
            let status = values.withUnsafeMutableBytes {
                H5Dread(ds, T.memoryType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress)
            }
            guard status >= 0 else { throw failure("cannot read dataset '\(name)': corrupt (checksum or structure does not match)") }
        }
        return (values, shape)
    }

    /// Reads rows `rows` of the first dimension of dataset `name` (a hyperslab), row-major.
    public func readRows<T: HDF5Element>(_ name: String, _ rows: Range<Int>, as type: T.Type = T.self) throws -> [T] {
        let ds = try openDataset(name)
        defer { H5Dclose(ds) }
        try checkClass(ds, name, T.self)
        let shape = try dims(ds, name)
        guard let first = shape.first, rows.lowerBound >= 0, rows.upperBound <= first else {
            throw KDError(file: path, "dataset '\(name)' of shape \(shape) has no rows \(rows.lowerBound)..<\(rows.upperBound)")
        }
        let rowSize = shape.dropFirst().reduce(1, *)
        var values = [T](repeating: 0, count: rows.count * rowSize)
        guard !rows.isEmpty else { return values }
        let fileSpace = H5Dget_space(ds)
        defer { H5Sclose(fileSpace) }
        var start = [hsize_t](repeating: 0, count: shape.count)
        var count = shape.map { hsize_t($0) }
        start[0] = hsize_t(rows.lowerBound)
        count[0] = hsize_t(rows.count)
        guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil) >= 0 else {
            throw failure("cannot select rows of '\(name)'")
        }
        let memSpace = H5Screate_simple(Int32(count.count), &count, nil)
        defer { H5Sclose(memSpace) }
        let status = values.withUnsafeMutableBytes {
            H5Dread(ds, T.memoryType, memSpace, fileSpace, chdf5_p_default(), $0.baseAddress)
        }
        guard status >= 0 else { throw failure("cannot read rows of dataset '\(name)': corrupt (checksum or structure does not match)") }
        return values
    }

    // MARK: - Helpers

    /// Creates dataset `name` of `shape` (missing parent groups too) with the creation
    /// properties `configure` sets; the caller closes the returned id.
    func createDataset<T: HDF5Element>(_ name: String, _: T.Type, shape: [Int], configure: (hid_t) -> Void) throws -> hid_t {
        var dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), &dims, nil)
        guard space >= 0 else { throw failure("cannot create dataspace for '\(name)' \(shape)") }
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(chdf5_p_dataset_create())
        defer { H5Pclose(dcpl) }
        configure(dcpl)
        let lcpl = H5Pcreate(chdf5_p_link_create())
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let ds = H5Dcreate2(id, name, T.fileType, space, lcpl, dcpl, chdf5_p_default())
        guard ds >= 0 else { throw failure("cannot create dataset '\(name)' \(shape)") }
        return ds
    }

    func openDataset(_ name: String) throws -> hid_t {
        guard exists(name) else { throw KDError(file: path, "has no dataset '\(name)'") }
        let ds = H5Dopen2(id, name, chdf5_p_default())
        guard ds >= 0 else { throw failure("cannot open dataset '\(name)'") }
        return ds
    }

    /// Whether dataset `name` holds integers (else floating point, or another class).
    func isInteger(_ name: String) throws -> Bool {
        let ds = try openDataset(name)
        defer { H5Dclose(ds) }
        let type = H5Dget_type(ds)
        defer { H5Tclose(type) }
        return H5Tget_class(type) == H5T_INTEGER
    }

    private func dims(_ ds: hid_t, _ name: String) throws -> [Int] {
        let space = H5Dget_space(ds)
        guard space >= 0 else { throw failure("cannot read the shape of '\(name)'") }
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0 else { throw failure("cannot read the shape of '\(name)'") }
        var dims = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.map { Int($0) }
    }

    private func checkClass<T: HDF5Element>(_ ds: hid_t, _ name: String, _: T.Type) throws {
        let type = H5Dget_type(ds)
        defer { H5Tclose(type) }
        let cls = H5Tget_class(type)
        guard cls == T.typeClass else {
            let kind = T.typeClass == H5T_FLOAT ? "floating-point" : "integer"
            throw KDError(file: path, "dataset '\(name)' does not hold \(kind) values (HDF5 type class \(cls.rawValue))")
        }
    }
}
