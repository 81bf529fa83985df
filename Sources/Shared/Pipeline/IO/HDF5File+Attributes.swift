import Engine
import CHDF5
import Foundation

// MARK: - Attributes

/// An attribute value: what the pipeline stamps on files and datasets.
public enum HDF5Attribute: Equatable, Sendable {
    case int(Int64)
    case double(Double)
    case string(String)
}

extension HDF5File {
    /// Sets attribute `name` on the object at `object` ("/" for the file), replacing it.
    public func setAttribute(_ name: String, _ value: HDF5Attribute, on object: String = "/") throws {
        if H5Aexists_by_name(id, object, name, chdf5_p_default()) > 0 {
            H5Adelete_by_name(id, object, name, chdf5_p_default())
        }
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let fileType: hid_t
        switch value {
        case .int: fileType = H5Tcopy(Int64.fileType)
        case .double: fileType = H5Tcopy(Double.fileType)
        case .string:
            fileType = H5Tcopy(chdf5_t_c_s1())
            H5Tset_size(fileType, chdf5_t_variable())
            H5Tset_cset(fileType, H5T_CSET_UTF8)
        }
        defer { H5Tclose(fileType) }
        let attr = H5Acreate_by_name(id, object, name, fileType, space, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
        guard attr >= 0 else { throw failure("cannot create attribute '\(name)' on '\(object)'") }
        defer { H5Aclose(attr) }
        var status: herr_t
        switch value {
        case .int(var v): status = H5Awrite(attr, Int64.memoryType, &v)
        case .double(var v): status = H5Awrite(attr, Double.memoryType, &v)
        case .string(let s):
            status = s.withCString { cs in
                var pointer: UnsafePointer<CChar>? = cs
                return H5Awrite(attr, fileType, &pointer)
            }
        }
        guard status >= 0 else { throw failure("cannot write attribute '\(name)' on '\(object)'") }
    }

    /// Removes attribute `name` of `object`; absent is no error.
    public func removeAttribute(_ name: String, of object: String = "/") throws {
        guard H5Aexists_by_name(id, object, name, chdf5_p_default()) > 0 else { return }
        guard H5Adelete_by_name(id, object, name, chdf5_p_default()) >= 0 else { throw failure("cannot remove attribute '\(name)' of '\(object)'") }
    }

    /// Reads attribute `name` of `object`; nil if absent. Integers come back as `.int`,
    /// floats as `.double`, fixed- or variable-length strings as `.string`.
    public func attribute(_ name: String, of object: String = "/") throws -> HDF5Attribute? {
        guard exists(object) || object == "/" else { throw KDError(file: path, "has no object '\(object)'") }
        guard H5Aexists_by_name(id, object, name, chdf5_p_default()) > 0 else { return nil }
        let attr = H5Aopen_by_name(id, object, name, chdf5_p_default(), chdf5_p_default())
        guard attr >= 0 else { throw failure("cannot open attribute '\(name)' of '\(object)'") }
        defer { H5Aclose(attr) }
        let type = H5Aget_type(attr)
        defer { H5Tclose(type) }
        let space = H5Aget_space(attr)
        defer { H5Sclose(space) }
        guard H5Sget_simple_extent_npoints(space) == 1 else {
            throw KDError(file: path, "attribute '\(name)' of '\(object)' is not a single value")
        }
        switch H5Tget_class(type) {
        case H5T_INTEGER:
            var v: Int64 = 0
            guard H5Aread(attr, Int64.memoryType, &v) >= 0 else { throw failure("cannot read attribute '\(name)'") }
            return .int(v)
        case H5T_FLOAT:
            var v: Double = 0
            guard H5Aread(attr, Double.memoryType, &v) >= 0 else { throw failure("cannot read attribute '\(name)'") }
            return .double(v)
        case H5T_STRING:
            if H5Tis_variable_str(type) > 0 {
                var pointer: UnsafeMutablePointer<CChar>? = nil
                guard H5Aread(attr, type, &pointer) >= 0 else { throw failure("cannot read attribute '\(name)'") }
                defer { if let p = pointer { H5free_memory(p) } }
                guard let p = pointer else { return .string("") }
                return .string(try text(UnsafeBufferPointer(start: p, count: strlen(p)).map { UInt8(bitPattern: $0) }, name, object))
            }
            let size = H5Tget_size(type)
            var bytes = [UInt8](repeating: 0, count: size + 1)
            guard H5Aread(attr, type, &bytes) >= 0 else { throw failure("cannot read attribute '\(name)'") }
            let end = bytes.firstIndex(of: 0) ?? size
            return .string(try text(Array(bytes[..<end]), name, object))
        default:
            throw KDError(file: path, "attribute '\(name)' of '\(object)' has an unsupported type")
        }
    }

    /// A string attribute's bytes as text: valid UTF-8 with no control character but newline and
    /// tab (the pipeline writes no other), else an error calling the file damaged. A flipped bit
    /// in a name or a number written as text mostly lands here.
    private func text(_ bytes: [UInt8], _ name: String, _ object: String) throws -> String {
        let s = String(decoding: bytes, as: UTF8.self)
        let isText = Array(s.utf8) == bytes
            && !s.unicodeScalars.contains { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" }
        guard isText else { throw KDError(file: path, "attribute '\(name)' of '\(object)' is not text: the file is damaged") }
        return s
    }

    /// Whether `object` has an attribute `name` this reader can read.
    public func hasAttribute(_ name: String, of object: String = "/") -> Bool {
        ((try? attribute(name, of: object)) ?? nil) != nil
    }

    /// Attribute `name` as a string, or an error naming the file if it is missing or not a string.
    public func stringAttribute(_ name: String, of object: String = "/") throws -> String {
        guard case .string(let s)? = try attribute(name, of: object) else {
            throw KDError(file: path, "attribute '\(name)' is missing or not a string")
        }
        return s
    }

    /// Attribute `name` as an integer, or an error naming the file.
    public func intAttribute(_ name: String, of object: String = "/") throws -> Int64 {
        guard case .int(let v)? = try attribute(name, of: object) else {
            throw KDError(file: path, "attribute '\(name)' is missing or not an integer")
        }
        return v
    }

    /// Attribute `name` as a number (integers are converted), or an error naming the file.
    public func doubleAttribute(_ name: String, of object: String = "/") throws -> Double {
        switch try attribute(name, of: object) {
        case .double(let v)?: return v
        case .int(let v)?: return Double(v)
        default: throw KDError(file: path, "attribute '\(name)' is missing or not a number")
        }
    }
}
