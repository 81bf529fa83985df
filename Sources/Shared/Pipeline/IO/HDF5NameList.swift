import CHDF5

/// The names an HDF5 iteration (`H5Literate_by_name`, `H5Aiterate_by_name`) hands to its C
/// callback, collected in order: the callback cannot capture, so it reaches the list through
/// the iteration's `void *`.
final class HDF5NameList {
    private(set) var names: [String] = []

    /// Runs `iterate` with the pointer its callback passes to `append`; returns HDF5's status.
    func collect(_ iterate: (UnsafeMutableRawPointer) -> herr_t) -> herr_t {
        withExtendedLifetime(self) { iterate(Unmanaged.passUnretained(self).toOpaque()) }
    }

    /// For the C callback: appends `name` to the list behind `data`; 0 goes on iterating.
    static func append(_ data: UnsafeMutableRawPointer?, _ name: UnsafePointer<CChar>?) -> herr_t {
        Unmanaged<HDF5NameList>.fromOpaque(data!).takeUnretainedValue().names.append(String(cString: name!))
        return 0
    }
}
