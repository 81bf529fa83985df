import CHDF5
import Engine

// MARK: - A checksum over every attribute

extension HDF5File {
    /// SHA-256 (hex) over every attribute of every object in the file except `skip` (the
    /// attribute that stores the digest). Objects are taken depth first in name order ("/" first),
    /// attributes in name order, each as the UTF-8 line `<object> <name> <value>\n`, the value as
    /// `int <decimal>`, `double <bit pattern in decimal>` or `string <byte count> <bytes>`, so that
    /// a changed, added or removed attribute anywhere changes the digest.
    public func attributesDigest(excluding skip: String) throws -> String {
        var h = SHA256()
        for object in try objects() {
            for name in try attributeNames(of: object) where !(object == "/" && name == skip) {
                let value: String
                switch try attribute(name, of: object) {
                case .int(let v)?: value = "int \(v)"
                case .double(let v)?: value = "double \(v.bitPattern)"
                case .string(let s)?: value = "string \(s.utf8.count) \(s)"
                case nil: throw KDError(file: path, "attribute '\(name)' of '\(object)' vanished while being read")
                }
                h.update(Array("\(object) \(name) \(value)\n".utf8))
            }
        }
        return h.finalizeHex()
    }

    /// "/" and every group and dataset below it, depth first in name order.
    func objects(under group: String = "/") throws -> [String] {
        var found = [group]
        for child in try children(of: group) {
            let name = group == "/" ? child : group + "/" + child
            if try isGroup(name) { found += try objects(under: name) } else { found.append(name) }
        }
        return found
    }

    /// Whether the object at `name` is a group (else a dataset).
    func isGroup(_ name: String) throws -> Bool {
        switch chdf5_is_group(id, name) {
        case 1: return true
        case 0: return false
        default: throw failure("cannot read object '\(name)'")
        }
    }

    /// Names of the attributes of `object`, in name order.
    func attributeNames(of object: String) throws -> [String] {
        let list = HDF5NameList()
        var index: hsize_t = 0
        let status = list.collect { box in
            H5Aiterate_by_name(id, object, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, _, data in HDF5NameList.append(data, name) },
                               box, chdf5_p_default())
        }
        guard status >= 0 else { throw failure("cannot list the attributes of '\(object)'") }
        return list.names
    }
}
