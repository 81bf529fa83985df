import ArgumentParser
import Pipeline

extension RestorePoint: ExpressibleByArgument {}
