import ArgumentParser
import Foundation
import Engine
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
        """
    )

    @Option(name: .long, help: "The run directory that holds params.json; outputs are written beside it.")
    var modelDir: String

    @Option(name: .long, help: "Resume from this checkpoint in the run directory: 'last' or 'best'.")
    var restoreFile: RestorePoint?

    func run() throws {
        let setup = try RunSetup(runDir: modelDir)
        guard setup.params.alpha == 0 else {
            throw PipelineError(file: setup.paramsPath, "key 'alpha': teacher-train learns from the labels alone; set alpha to 0 or leave it out")
        }
        let log = try RunLog(runDir: modelDir)
        let trainer = try Trainer(setup: setup, log: log, teacherTrainLogits: nil)
        let outcome = try trainer.train(restore: restoreFile)
        let test = try StageReport.testBestWeights(setup: setup, model: trainer.model, log: log)
        log.info("teacher \(setup.params.modelVersion): best validation accuracy \(percent(outcome.bestAccuracy)) (epoch \(outcome.bestEpoch + 1)), test accuracy \(percent(test.accuracy)) with those weights")
    }
}
