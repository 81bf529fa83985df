import Engine

extension Checkpoint {
    /// Starts a fresh run's `model` from the weights (and BatchNorm statistics) of the
    /// checkpoint at `path`, except the tensors `reinit` names, which keep their fresh
    /// initialisation and may have another shape there (a new head). Everything else must be
    /// there with the same shape, and the checkpoint may hold nothing else: as
    /// `load_state_dict(strict=True)` after replacing the head. Optimizer and training state
    /// are not read. Returns how many tensors were loaded and how many kept fresh.
    @discardableResult
    public static func initialize(_ model: Model, from path: String, reinit: [ParameterPattern]) throws -> (loaded: Int, fresh: Int) {
        let f = try HDF5File.open(path)
        guard let version = try? f.intAttribute("format_version"), readableVersions.contains(version) else {
            throw KDError(file: path, "key 'init_from': not a checkpoint of this tool (format_version missing or not \(readableVersions.map(String.init).joined(separator: " or ")))")
        }
        let tensors = try readStateDict(f)
        if version >= 2, try StateDictDigest(tensors).hex != f.stringAttribute(digestName) {
            throw KDError(file: path, "its tensors do not match the checksum written with them (\(digestName)): the file is damaged or was changed")
        }
        let fresh = { (name: String) in reinit.contains { $0.matches(name) } }
        let ours = Set(model.store.entries.map(\.name))
        if let extra = tensors.keys.sorted().first(where: { !ours.contains($0) && !fresh($0) }) {
            throw KDError(file: path, "tensor '\(extra)' is not part of \(model.name) (list it in 'reinit' if the new model drops it)")
        }
        var loaded = 0
        for e in model.store.entries where !fresh(e.name) {
            guard let t = tensors[e.name] else {
                throw KDError(file: path, "has no tensor '\(e.name)' that \(model.name) needs (list it in 'reinit' to start it fresh)")
            }
            let shape = try f.shape(of: e.name)
            guard shape == e.shape else {
                throw KDError(file: path, "tensor '\(e.name)' has shape \(shape), \(model.name) needs \(e.shape) (a new head? list it in 'reinit')")
            }
            try model.store.set(e.name, t.floats)
            loaded += 1
        }
        return (loaded, model.store.entries.count - loaded)
    }
}
