import ArgumentParser
import Shared

@main
struct TeacherTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teacher-train",
        abstract: "Stage 1 of 3: train a teacher CNN (ResNet, VGG, ...) on an image dataset.",
        discussion: """
        Reads MODEL_DIR/params.json (model_version, dataset, learning_rate, num_epochs, ...), \
        trains the model on the training split, evaluates it on the validation split after every \
        epoch, and writes last.h5 every epoch and best.h5 whenever validation accuracy improves, \
        with metrics JSON files and train.log beside them. The next stage, teacher-export, runs \
        the trained teacher once and caches its logits for any number of student runs.
        """
    )

    @Option(name: .long, help: "The run directory that holds params.json; outputs are written beside it.")
    var modelDir: String

    @Option(name: .long, help: "Resume from this checkpoint in the run directory: 'last' or 'best'.")
    var restoreFile: RestorePoint?

    func run() throws {
        throw StageNotReady(stage: "teacher-train")
    }
}
