import Engine
import CHDF5

/// The element types the HDF5 wrapper reads and writes, with their in-memory (native) and
/// on-disk (little-endian) HDF5 types.
public protocol HDF5Element: Numeric, Sendable {
    static var memoryType: hid_t { get }
    static var fileType: hid_t { get }
    static var typeClass: H5T_class_t { get }
}

extension Float: HDF5Element {
    public static var memoryType: hid_t { chdf5_t_native_float() }
    public static var fileType: hid_t { chdf5_t_ieee_f32le() }
    public static var typeClass: H5T_class_t { H5T_FLOAT }
}
extension Double: HDF5Element {
    public static var memoryType: hid_t { chdf5_t_native_double() }
    public static var fileType: hid_t { chdf5_t_ieee_f64le() }
    public static var typeClass: H5T_class_t { H5T_FLOAT }
}
extension Float16: HDF5Element {
    public static var memoryType: hid_t { chdf5_t_ieee_f16le() }
    public static var fileType: hid_t { chdf5_t_ieee_f16le() }
    public static var typeClass: H5T_class_t { H5T_FLOAT }
}
extension Int16: HDF5Element {
    public static var memoryType: hid_t { chdf5_t_native_int16() }
    public static var fileType: hid_t { chdf5_t_std_i16le() }
    public static var typeClass: H5T_class_t { H5T_INTEGER }
}
extension Int32: HDF5Element {
    public static var memoryType: hid_t { chdf5_t_native_int32() }
    public static var fileType: hid_t { chdf5_t_std_i32le() }
    public static var typeClass: H5T_class_t { H5T_INTEGER }
}
extension Int64: HDF5Element {
    public static var memoryType: hid_t { chdf5_t_native_int64() }
    public static var fileType: hid_t { chdf5_t_std_i64le() }
    public static var typeClass: H5T_class_t { H5T_INTEGER }
}
extension UInt8: HDF5Element {
    public static var memoryType: hid_t { chdf5_t_native_uint8() }
    public static var fileType: hid_t { chdf5_t_std_u8le() }
    public static var typeClass: H5T_class_t { H5T_INTEGER }
}
