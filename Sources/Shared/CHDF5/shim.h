#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H
// Debian installs the serial HDF5 headers outside the default include path; without pkgconf
// SwiftPM cannot find them, so fall back to the absolute path.
#if __has_include(<hdf5.h>)
#include <hdf5.h>
#else
#include "/usr/include/hdf5/serial/hdf5.h"
#endif

// HDF5's type and property-list "constants" are macros that call H5open() and read a global;
// Swift either does not import them or (Swift 6) refuses to read the globals. Wrap each one.

static inline hid_t chdf5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_s_all(void) { return H5S_ALL; }
static inline hid_t chdf5_e_default(void) { return H5E_DEFAULT; }
static inline hsize_t chdf5_s_unlimited(void) { return H5S_UNLIMITED; }
static inline size_t chdf5_t_variable(void) { return H5T_VARIABLE; }

static inline unsigned chdf5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline unsigned chdf5_f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_f_acc_excl(void) { return H5F_ACC_EXCL; }

static inline hid_t chdf5_p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t chdf5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_p_dataset_access(void) { return H5P_DATASET_ACCESS; }
static inline hid_t chdf5_p_link_create(void) { return H5P_LINK_CREATE; }

// In-memory (native) types.
static inline hid_t chdf5_t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_t_native_int16(void) { return H5T_NATIVE_INT16; }
static inline hid_t chdf5_t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t chdf5_t_c_s1(void) { return H5T_C_S1; }

// On-disk types: little-endian, so files are identical on every machine.
static inline hid_t chdf5_t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t chdf5_t_std_i16le(void) { return H5T_STD_I16LE; }
static inline hid_t chdf5_t_std_i32le(void) { return H5T_STD_I32LE; }

/// IEEE half precision, little-endian: HDF5 1.10 has no predefined one, so it is made once, the
/// way h5py makes the type it reads as numpy's float16 (sign bit 15, exponent 10-14, mantissa
/// 0-9, bias 15). On little-endian machines it is also the in-memory type.
static inline hid_t chdf5_t_ieee_f16le(void) {
    static hid_t type = -1;
    if (type < 0) {
        hid_t t = H5Tcopy(H5T_IEEE_F32LE);
        H5Tset_fields(t, 15, 10, 5, 0, 10);
        H5Tset_size(t, 2);
        H5Tset_ebias(t, 15);
        type = t;
    }
    return type;
}
static inline hid_t chdf5_t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t chdf5_t_std_u8le(void) { return H5T_STD_U8LE; }

/// 1 when the object at `name` is a group, 0 when it is another object, -1 when it cannot be read.
static inline int chdf5_is_group(hid_t loc, const char *name) {
    H5O_info_t info;
    if (H5Oget_info_by_name2(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
    return info.type == H5O_TYPE_GROUP;
}

/// Switches off HDF5's printing of its error stack; failures are reported as Swift errors.
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
#endif
