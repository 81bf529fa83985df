import Engine

/// params.json's fine-tuning keys applied to a model about to train: `frozen` / `trainable`
/// before the optimizer is made, `init_from` / `reinit` on a fresh start.
extension RunSetup {
    /// Freezes what `frozen` or `trainable` say. Every pattern must name at least one
    /// parameter, and something must be left to train. Returns a line for the log, or nil.
    public func freezeParameters(of model: Model) throws -> String? {
        let p = params
        guard !p.frozen.isEmpty || !p.trainable.isEmpty else { return nil }
        let key = p.frozen.isEmpty ? "trainable" : "frozen"
        let patterns = try checkedPatterns(key, p.frozen.isEmpty ? p.trainable : p.frozen, model)
        let picked = { (name: String) in patterns.contains { $0.matches(name) } }
        model.freeze(where: p.frozen.isEmpty ? { !picked($0) } : picked)
        let trainable = model.store.unfrozenScalarCount
        guard trainable > 0 else { throw KDError(file: paramsPath, "key '\(key)': no parameter is left to train") }
        let prefix = model.frozenPrefix > 0 ? "; the first \(model.frozenPrefix) top-level layers run in evaluation mode, without backward" : ""
        return "Fine-tuning: \(trainable) of \(model.store.parameterCount) parameters train (\(key) \(p.frozen.isEmpty ? p.trainable : p.frozen))\(prefix); frozen BatchNorm keeps its running statistics"
    }

    /// Loads `init_from` into a fresh model, but for `reinit`. Returns a line for the log, or nil.
    public func initializeWeights(of model: Model) throws -> String? {
        guard let from = params.initFrom else { return nil }
        let path = directory.resolve(from)
        let reinit = try checkedPatterns("reinit", params.reinit, model, alsoIn: path)
        let (loaded, fresh) = try Checkpoint.initialize(model, from: path, reinit: reinit)
        return "Initialised from \(path): \(loaded) tensors loaded" + (fresh > 0 ? ", \(fresh) fresh (reinit \(params.reinit))" : "")
    }

    /// The patterns of `key`, each of which must match a tensor of `model` (or of the
    /// checkpoint at `alsoIn`): a typo is an error, not a silent no-op.
    private func checkedPatterns(_ key: String, _ texts: [String], _ model: Model, alsoIn checkpoint: String? = nil) throws -> [ParameterPattern] {
        var names = model.store.entries.map(\.name)
        if let checkpoint, let f = try? HDF5File.open(checkpoint), let children = try? f.children() { names += children }
        return try texts.map { text in
            let pattern = ParameterPattern(text)
            guard names.contains(where: pattern.matches) else {
                let examples = model.store.entries.prefix(3).map { "'\($0.name)'" }.joined(separator: ", ")
                throw KDError(file: paramsPath, "key '\(key)': '\(text)' matches no parameter of \(model.name) (its names look like \(examples), ...)")
            }
            return pattern
        }
    }
}
