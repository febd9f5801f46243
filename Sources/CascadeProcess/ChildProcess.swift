import CascadeSync
import Foundation
import NIOConcurrencyHelpers

/// A real process started by a test or a benchmark: its standard output collected line by line
/// so the caller awaits what it prints instead of sleeping or polling; standard error collected
/// too, or appended to a log file; its exit awaited.
public final class ChildProcess: Sendable {
    /// What the process printed so far, and whether it is over.
    private struct Output {
        var stdout = ""
        /// Complete lines of `stdout`, in order.
        var lines: [String] = []
        /// The start of the line still being printed, in `stdout`.
        var partialLine = ""
        var stderr = ""
        var exitStatus: Int32?
        /// Readers still reading a pipe: the output is complete once none is.
        var openPipes = 0
        var finished: Bool { exitStatus != nil && openPipes == 0 }
    }

    /// Names the process in errors.
    public let name: String
    private let process = Process()
    private let output = NIOLockedValueBox(Output())
    /// Moves on output, end of file and exit: a waiter sleeps until it does.
    private let progress = ChangeSignal()
    private let stdinPipe = Pipe()

    /// Prepares `executable arguments`; `run()` starts it. `environment` adds to (or overrides)
    /// this process's. With `stderrLog`, standard error is appended to that file instead of kept.
    public init(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil, name: String? = nil, stderrLog: URL? = nil
    ) throws {
        self.name = name ?? executable.lastPathComponent
        process.executableURL = executable
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardInput = stdinPipe
        let stdoutPipe = Pipe()
        process.standardOutput = stdoutPipe
        startReader(stdoutPipe.fileHandleForReading) { text, output in
            output.stdout += text
            output.partialLine += text
            while let newline = output.partialLine.firstIndex(of: "\n") {
                output.lines.append(String(output.partialLine[..<newline]))
                output.partialLine = String(output.partialLine[output.partialLine.index(after: newline)...])
            }
        } atEnd: { output in
            // A last line without its newline is a line all the same.
            if !output.partialLine.isEmpty { output.lines.append(output.partialLine) }
        }
        if let stderrLog {
            if !FileManager.default.fileExists(atPath: stderrLog.path) {
                FileManager.default.createFile(atPath: stderrLog.path, contents: nil)
            }
            let log = try FileHandle(forWritingTo: stderrLog)
            log.seekToEndOfFile()
            process.standardError = log
        } else {
            let stderrPipe = Pipe()
            process.standardError = stderrPipe
            startReader(stderrPipe.fileHandleForReading) { text, output in output.stderr += text }
        }
        let (output, progress) = (self.output, self.progress)
        process.terminationHandler = { finished in
            output.withLockedValue { $0.exitStatus = finished.terminationStatus }
            progress.changed()
        }
    }

    public func run() throws {
        // Foundation's Process hands the child the calling thread's signal mask, and the
        // threads of a Swift process block SIGTERM, SIGINT and others: a child started from
        // one ignored `kill -TERM` until it was killed. It starts with none blocked, as from a shell.
        var none = sigset_t()
        var previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
        // Our copy of a log file's descriptor: the child holds its own.
        try? (process.standardError as? FileHandle)?.close()
    }

    /// One reader thread per pipe, to end of file, so nothing printed is ever lost.
    private func startReader(
        _ handle: FileHandle, append: @escaping @Sendable (String, inout Output) -> Void,
        atEnd: @escaping @Sendable (inout Output) -> Void = { _ in }
    ) {
        let (output, progress) = (self.output, self.progress)
        output.withLockedValue { $0.openPipes += 1 }
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
                output.withLockedValue { append(text, &$0) }
                progress.changed()
            }
            // Closed here, at end of file: Foundation's Process keeps its pipes alive after the
            // process is gone (two descriptors a run, over 1,300 in one suite, past which
            // Process.run's own scan of /proc/self/fd reads beyond its buffer and crashes).
            try? handle.close()
            output.withLockedValue { output in
                atEnd(&output)
                output.openPipes -= 1
            }
            progress.changed()
        }
    }

    public var pid: Int32 { process.processIdentifier }
    /// Started, and its exit not seen yet.
    public var isRunning: Bool { process.isRunning && output.withLockedValue { $0.exitStatus == nil } }
    public var stdout: String { output.withLockedValue { $0.stdout } }
    /// The complete lines printed on standard output so far.
    public var lines: [String] { output.withLockedValue { $0.lines } }
    /// Standard error so far; empty when it goes to a log file.
    public var stderr: String { output.withLockedValue { $0.stderr } }

    public func write(_ text: String) {
        stdinPipe.fileHandleForWriting.write(Data(text.utf8))
    }

    public func closeStdin() {
        try? stdinPipe.fileHandleForWriting.close()
    }

    /// Waits until standard output has a line (printed already or still to come) for which
    /// `match` is true, and returns it. Throws once the process has exited and all it printed
    /// was read without one, or at the timeout.
    public func awaitLine(timeout: Duration = .seconds(30), _ match: (String) -> Bool) async throws -> String {
        var found: String?
        var checked = 0
        var finished = false
        _ = await progress.wait(until: .now + timeout) {
            let (lines, done) = output.withLockedValue { output in (output.lines[checked...], output.finished) }
            found = lines.first(where: match)
            checked += lines.count
            finished = done
            return found != nil || done
        }
        if let found { return found }
        if finished { throw ChildProcessError.exited(name: name, status: process.terminationStatus, stderr: stderr) }
        throw ChildProcessError.timedOut(name: name, stdout: stdout, stderr: stderr)
    }

    /// Waits for the process to end, all it printed read, and returns its exit status.
    @discardableResult
    public func awaitExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        guard await progress.wait(until: .now + timeout, for: { output.withLockedValue { $0.finished } }) else {
            throw ChildProcessError.timedOut(name: name, stdout: stdout, stderr: stderr)
        }
        return process.terminationStatus
    }

    public func signal(_ signal: Int32) {
        if isRunning { kill(process.processIdentifier, signal) }
    }

    /// SIGTERM (after SIGCONT, in case it was stopped), then SIGKILL when it has not ended
    /// within `grace`.
    public func stop(grace: Duration = .seconds(10)) async {
        guard isRunning else { return }
        signal(SIGCONT)
        signal(SIGTERM)
        if (try? await awaitExit(timeout: grace)) == nil {
            signal(SIGKILL)
            _ = try? await awaitExit(timeout: .seconds(5))
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

public enum ChildProcessError: Error, CustomStringConvertible {
    case exited(name: String, status: Int32, stderr: String)
    case timedOut(name: String, stdout: String, stderr: String)

    public var description: String {
        switch self {
        case .exited(let name, let status, let stderr):
            return "\(name) exited with status \(status)" + (stderr.isEmpty ? "" : ": \(stderr.suffix(2000))")
        case .timedOut(let name, let stdout, let stderr):
            return "\(name) timed out; stdout: \(stdout.suffix(2000)) stderr: \(stderr.suffix(2000))"
        }
    }
}
