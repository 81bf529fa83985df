import ArgumentParser
import Engine
import Pipeline

extension RestorePoint: ExpressibleByArgument {}
