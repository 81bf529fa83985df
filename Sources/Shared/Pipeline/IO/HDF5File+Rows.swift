import CHDF5
import Engine

// MARK: - Datasets written and read row by row

extension HDF5File {
    /// Creates dataset `name` of `shape` (row-major, rows along the first dimension) with its
    /// bytes laid out contiguously and allocated now, to be filled as the rows are made (`RowFile`
    /// writes them). Such a dataset has no HDF5 filter, so its rows can be read straight from the
    /// file (`RowFile`): what a file larger than memory needs. Its integrity is the caller's
    /// (a checksum attribute), not fletcher32's.
    public func createRowDataset<T: HDF5Element>(_ name: String, of type: T.Type, shape: [Int]) throws {
        let ds = try createDataset(name, T.self, shape: shape) { dcpl in
            H5Pset_layout(dcpl, H5D_CONTIGUOUS)
            H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY)
            H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER)
        }
        H5Dclose(ds)
    }

    /// Where the bytes of dataset `name` start in the file, when they lie there as they are
    /// (contiguous, allocated, no filter); nil for a chunked or empty dataset.
    public func contiguousOffset(of name: String) throws -> Int? {
        let ds = try openDataset(name)
        defer { H5Dclose(ds) }
        let dcpl = H5Dget_create_plist(ds)
        defer { H5Pclose(dcpl) }
        guard H5Pget_layout(dcpl) == H5D_CONTIGUOUS, H5Pget_nfilters(dcpl) == 0 else { return nil }
        let offset = H5Dget_offset(ds)
        return offset == haddr_t.max ? nil : Int(offset)
    }
}

extension HDF5File {
    /// Creates a row dataset for one part of a logits file (`LogitsPart`): float32 or float16
    /// values, int16 or int32 classes.
    func createRowDataset(_ name: String, element part: LogitsPart, shape: [Int]) throws {
        switch (part.isInteger, part.elementBytes) {
        case (false, 4): try createRowDataset(name, of: Float.self, shape: shape)
        case (false, 2): try createRowDataset(name, of: Float16.self, shape: shape)
        case (true, 2): try createRowDataset(name, of: Int16.self, shape: shape)
        default: try createRowDataset(name, of: Int32.self, shape: shape)
        }
    }

    /// Whether dataset `name` holds integers, and the bytes of one element.
    func elementType(of name: String) throws -> (isInteger: Bool, bytes: Int) {
        let ds = try openDataset(name)
        defer { H5Dclose(ds) }
        let type = H5Dget_type(ds)
        defer { H5Tclose(type) }
        return (H5Tget_class(type) == H5T_INTEGER, H5Tget_size(type))
    }
}
