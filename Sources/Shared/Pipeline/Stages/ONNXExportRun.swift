import Engine
import Foundation

/// A trained run's model as an ONNX file for deployment: the evaluation graph of its
/// checkpoint (`Model.inferenceGraph`), written by `ONNXFile`. What `student-distill
/// export-onnx` does; it works for teachers' run directories too.
public enum ONNXExportRun {
    /// - Returns: the path written (default `<run dir>/student.onnx`).
    @discardableResult
    public static func run(modelDir: String, checkpoint: RestorePoint = .best, out: String? = nil) throws -> String {
        let setup = try RunSetup(runDir: modelDir)
        let model = try setup.makeModel()
        let source = setup.directory.path(checkpoint.file)
        try Checkpoint.load(source, into: model)
        let path = out ?? setup.directory.path(.onnx)
        try ONNXFile.write(model.inferenceGraph(), to: path)
        return path
    }
}
