import ArgumentParser
import KDCommandLine
import Pipeline

struct ExportONNX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-onnx",
        abstract: "Write a trained run's model as an ONNX file (MODEL_DIR/student.onnx).",
        discussion: """
        The evaluation graph of the checkpoint: BatchNormalization with the running statistics, \
        no Dropout, input 'input' [batch, C, H, W] normalised as in training, output the raw \
        logits [batch, classes], the batch dimension free. ONNX IR version 7, opset 13, which \
        Debian 12's python3-onnx checks and onnxruntime runs. Works for any run directory, a \
        teacher's included. The file is written to a temporary name and renamed into place.
        """
    )

    @OptionGroup var directory: ModelDirOption

    @Option(name: .long, help: "Which checkpoint to export: 'best' (highest validation accuracy) or 'last'.")
    var checkpoint: RestorePoint = .best

    @Option(name: .long, help: "Where to write the model (default: MODEL_DIR/student.onnx).")
    var out: String?

    func run() throws {
        let path = try ONNXExportRun.run(modelDir: directory.modelDir, checkpoint: checkpoint, out: out)
        print("wrote \(path)")
    }
}
