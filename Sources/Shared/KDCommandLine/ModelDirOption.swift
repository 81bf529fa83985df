import ArgumentParser

/// `--model-dir`, the run directory every stage works in.
public struct ModelDirOption: ParsableArguments {
    @Option(name: .long, help: "The run directory: it holds params.json, and the stage's outputs are written beside it.")
    public var modelDir: String

    public init() {}
}
