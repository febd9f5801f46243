import ArgumentParser
import CascadeGraph
import Foundation

/// One line on standard output, at once (benchmarks print as they go).
func printLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// The graph of a directory, or its problems on standard error and the exit status of
/// `cascade graph validate`.
func loadGraph(directory: String) throws -> (CacheGraph, GraphLoadResult) {
    do {
        return try GraphLoader.loadUsable(directory: directory)
    } catch {
        for line in error.lines { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        throw ExitCode(error.exitCode)
    }
}
