import ArgumentParser
import Pipeline

extension LogitsEncoding.ValueType: ExpressibleByArgument {}
