import CascadeSync
import Foundation
import NIOConcurrencyHelpers

/// A real process started by a test, with its output collected line by line so the test can
/// await what it prints instead of sleeping.
public final class ChildProcess: Sendable {
    /// What the process printed so far.
    private struct Output {
        var stdout = ""
        var stderr = ""
    }

    public let process = Process()
    private let output = NIOLockedValueBox(Output())
    /// Moves on output, end of file and exit: a waiter sleeps until it does.
    private let progress = ChangeSignal()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let stdinPipe = Pipe()
    private let readers = DispatchGroup()

    public init(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) {
        process.executableURL = executable
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        process.standardInput = stdinPipe
        let progress = self.progress
        process.terminationHandler = { _ in progress.changed() }
        // One reader thread per pipe, to end of file, so nothing printed is ever lost.
        let output = self.output
        startReader(stdoutPipe.fileHandleForReading) { text in output.withLockedValue { $0.stdout += text } }
        startReader(stderrPipe.fileHandleForReading) { text in output.withLockedValue { $0.stderr += text } }
    }

    private func startReader(_ handle: FileHandle, append: @escaping @Sendable (String) -> Void) {
        let group = self.readers
        let progress = self.progress
        group.enter()
        // read(2) itself, not `FileHandle.availableData`: that traps when a signal interrupts
        // the read (EINTR), which took a whole suite run down once; here it is retried.
        Thread.detachNewThread {
            // The handle stays captured: it owns the descriptor, which must outlive the reads.
            let descriptor = handle.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                let text = String(decoding: buffer[..<count], as: UTF8.self)
                append(text)
                progress.changed()
            }
            // Closed here, at end of file: Foundation's Process keeps its pipes alive after the
            // process is gone (two descriptors a run, over 1,300 in one suite, past which
            // Process.run's own scan of /proc/self/fd reads beyond its buffer and crashes).
            try? handle.close()
            group.leave()
            progress.changed()
        }
    }

    /// Starts `cascade` with the given arguments.
    public static func cascade(_ arguments: [String], environment: [String: String]? = nil) throws -> ChildProcess {
        let child = ChildProcess(CascadeBinary.url, arguments, environment: environment)
        try child.process.run()
        return child
    }

    public var stdout: String { output.withLockedValue { $0.stdout } }
    public var stderr: String { output.withLockedValue { $0.stderr } }

    public func write(_ text: String) {
        stdinPipe.fileHandleForWriting.write(Data(text.utf8))
    }

    public func closeStdin() {
        try? stdinPipe.fileHandleForWriting.close()
    }

    /// Waits until stdout has a line for which `match` is true, and returns it.
    public func awaitLine(timeout: Duration = .seconds(30), _ match: (String) -> Bool) async throws -> String {
        var found: String?
        var exited = false
        _ = await progress.wait(until: .now + timeout) {
            found = stdout.split(separator: "\n").map(String.init).first(where: match)
            // Exited, and all it printed is read (the readers lag behind the exit).
            exited = found == nil && !process.isRunning && readers.wait(timeout: .now()) == .success
            if exited { found = stdout.split(separator: "\n").map(String.init).first(where: match) }
            return found != nil || exited
        }
        if let found { return found }
        if exited { throw ChildProcessError.exited(status: process.terminationStatus, stderr: stderr) }
        throw ChildProcessError.timedOut(stdout: stdout, stderr: stderr)
    }

    public func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits for the process to end and returns its exit status.
    @discardableResult
    public func awaitExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        // The output is complete once both pipes reached end of file.
        guard await progress.wait(until: .now + timeout, for: { !process.isRunning && readers.wait(timeout: .now()) == .success }) else {
            throw ChildProcessError.timedOut(stdout: stdout, stderr: stderr)
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

public enum ChildProcessError: Error, CustomStringConvertible {
    case exited(status: Int32, stderr: String)
    case timedOut(stdout: String, stderr: String)

    public var description: String {
        switch self {
        case .exited(let status, let stderr): return "process exited with \(status): \(stderr)"
        case .timedOut(let stdout, let stderr): return "timed out; stdout: \(stdout.suffix(2000)) stderr: \(stderr.suffix(2000))"
        }
    }
}

/// Runs a command to completion and returns its exit status and output (for redis-cli, kcat, dot).
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

public func runCommand(_ executable: String, _ arguments: [String], stdin: String? = nil, timeout: Duration = .seconds(60)) async throws -> CommandResult {
    let path = executable.hasPrefix("/") ? executable : (findExecutable(executable) ?? executable)
    let child = ChildProcess(URL(fileURLWithPath: path), arguments)
    try child.process.run()
    if let stdin { child.write(stdin) }
    child.closeStdin()
    let status = try await child.awaitExit(timeout: timeout)
    return CommandResult(status: status, stdout: child.stdout, stderr: child.stderr)
}

public func findExecutable(_ name: String) -> String? {
    let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    for folder in paths {
        let candidate = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// Waits for a condition with a deadline, polling; the alternative to sleeping in a test.
public func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// A TCP port on 127.0.0.1 that nothing listens on now, chosen by the kernel, for a command
/// that must be told its port. A random pick could land on a port in use (the ephemeral range
/// starts at 32768), and the command would fail to start.
public func freeTCPPort() -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
    }
    return bound ? Int(UInt16(bigEndian: address.sin_port)) : Int.random(in: 20_000..<30_000)
}
