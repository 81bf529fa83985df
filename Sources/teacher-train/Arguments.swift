import ArgumentParser
import Shared

extension RestorePoint: ExpressibleByArgument {}
