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

/// Builds a benchmark's C baseline (scripts/bench/*.c) against librdkafka with cc; returns the
/// binary's path.
func compileBaseline(_ source: String, name: String) throws -> String {
    guard FileManager.default.fileExists(atPath: source) else {
        throw ValidationError("cannot find \(source); run from the repository root or pass --baseline")
    }
    let binary = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(getpid())").path
    let cc = Process()
    cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    cc.arguments = ["cc", "-O2", "-o", binary, source, "-lrdkafka", "-lpthread"]
    try cc.run()
    cc.waitUntilExit()
    guard cc.terminationStatus == 0 else { throw ValidationError("cc could not build \(source)") }
    return binary
}

/// Runs a baseline binary to its end; returns its exit status and standard output.
func runBaseline(_ path: String, _ arguments: [String], discardingErrors: Bool = false) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    if discardingErrors { process.standardError = FileHandle.nullDevice }
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
}

/// Sends items 0..<total at `rate` per second, in 1 ms steps: each step sends what the rate
/// owes by then (`bench e2e` and its baselines pace their events alike).
func sendPaced(rate: Int, total: Int, _ send: (Int) async throws -> Void) async throws {
    let start = ContinuousClock.now
    var sent = 0
    while sent < total {
        let owed = min(total, Int((ContinuousClock.now - start).inSeconds * Double(rate)) + 1)
        while sent < owed {
            try await send(sent)
            sent += 1
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}
