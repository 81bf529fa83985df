import ArgumentParser
import Pipeline

extension SplitName: ExpressibleByArgument {}
