import ArgumentParser
import Foundation
import Engine
import KDCommandLine
import Pipeline

@main
struct TeacherTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teacher-train",
        abstract: "Stage 1 of 3: train a teacher CNN (ResNet, VGG, ...) on an image dataset.",
        discussion: """
        Reads MODEL_DIR/params.json (model_version, dataset, learning_rate, num_epochs, ...), \
        trains the model on the training split, evaluates it on the validation split after every \
        epoch, and writes last.h5 every epoch and best.h5 whenever validation accuracy improves, \
        with metrics JSON files and train.log beside them. At the end the best weights are \
        evaluated once on the test split (metrics_test_best_weights.json). The next stage, \
        teacher-export, runs the trained teacher once and caches its logits for any number of \
        student runs.
        """,
        version: ToolVersion.description
    )

    @OptionGroup var options: RunOptions
    @OptionGroup var params: ParamsOverrideOption

    func run() throws {
        try DistributedCommand.run {
            try TeacherRun.run(modelDir: options.modelDir, restore: options.restoreFile, overrides: params.overrides(), context: CrashHook.context)
        }
    }
}
