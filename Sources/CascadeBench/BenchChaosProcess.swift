import CascadeClient
import Foundation
import NIOConcurrencyHelpers

/// Monotonic nanoseconds: every time the chaos bench records (writes, reads, faults) is on this
/// one clock, so windows never mix clocks.
func chaosNow() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// One real `cascade` child process: standard output read line by line (awaited, never polled),
/// standard error appended to a log file, its exit awaited through the termination handler.
final class ChaosProcess: Sendable {
    let name: String
    private let process: Process
    private let state = NIOLockedValueBox(State())

    private struct State {
        var lines: [String] = []
        var exitStatus: Int32?
        /// Standard output reached its end: with `exitStatus`, no line is still to come.
        var outputEnded = false
        var finished: Bool { exitStatus != nil && outputEnded }
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
    }

    private struct Waiter {
        var match: @Sendable (String) -> Bool
        var continuation: CheckedContinuation<String, any Error>
    }

    /// Starts `executable arguments`, stderr appended to `log`.
    init(name: String, executable: URL, arguments: [String], log: URL) throws {
        self.name = name
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !FileManager.default.fileExists(atPath: log.path) { FileManager.default.createFile(atPath: log.path, contents: nil) }
        let logHandle = try FileHandle(forWritingTo: log)
        logHandle.seekToEndOfFile()
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        // A waiter fails only once the process has exited and its last lines are read: the
        // exit is often seen before them.
        process.terminationHandler = { [self] finished in
            self.failWaitersIfFinished { $0.exitStatus = finished.terminationStatus }
        }
        try process.run()
        try? logHandle.close()
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            // The handle stays captured: it owns the descriptor, which must outlive the reads.
            let descriptor = handle.fileDescriptor
            var pending = ""
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                // read(2), retried on EINTR: `FileHandle.availableData` traps on it.
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                pending += String(decoding: chunk[..<count], as: UTF8.self)
                while let newline = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<newline])
                    pending = String(pending[pending.index(after: newline)...])
                    let matched = self.state.withLockedValue { state -> [Waiter] in
                        state.lines.append(line)
                        let hits = state.waiters.filter { $0.value.match(line) }
                        for key in hits.keys { state.waiters[key] = nil }
                        return Array(hits.values)
                    }
                    for waiter in matched { waiter.continuation.resume(returning: line) }
                }
            }
            self.failWaitersIfFinished { $0.outputEnded = true }
        }
    }

    private func failWaitersIfFinished(after change: (inout State) -> Void) {
        let (waiting, status) = state.withLockedValue { state -> ([Waiter], Int32) in
            change(&state)
            guard state.finished, let status = state.exitStatus else { return ([], 0) }
            defer { state.waiters = [:] }
            return (Array(state.waiters.values), status)
        }
        for waiter in waiting { waiter.continuation.resume(throwing: OperatorError("\(name) exited with status \(status)")) }
    }

    var pid: Int32 { process.processIdentifier }
    /// What it printed on standard output so far, line by line.
    var lines: [String] { state.withLockedValue { $0.lines } }
    var isRunning: Bool { state.withLockedValue { $0.exitStatus == nil } }

    func signal(_ number: Int32) {
        if isRunning { kill(process.processIdentifier, number) }
    }

    /// The first stdout line (already printed or still to come) that `match` accepts.
    func awaitLine(timeout: Duration, _ match: @escaping @Sendable (String) -> Bool) async throws -> String {
        let id = state.withLockedValue { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timer = Task { [self, name] in
            try await Task.sleep(for: timeout)
            let waiter = self.state.withLockedValue { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(throwing: OperatorError("\(name) printed no expected line within \(timeout)"))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            enum Now { case line(String), exited(Int32), wait }
            let now = state.withLockedValue { state -> Now in
                if let line = state.lines.first(where: match) { return .line(line) }
                if state.finished, let status = state.exitStatus { return .exited(status) }
                state.waiters[id] = Waiter(match: match, continuation: continuation)
                return .wait
            }
            switch now {
            case .line(let line): continuation.resume(returning: line)
            case .exited(let status): continuation.resume(throwing: OperatorError("\(name) exited with status \(status)"))
            case .wait: break
            }
        }
    }

    /// Waits for the exit, at most `timeout`; the status, or nil when it is still running.
    func awaitExit(timeout: Duration) async -> Int32? {
        if let status = state.withLockedValue({ $0.exitStatus }) { return status }
        let exited = try? await awaitLine(timeout: timeout) { _ in false }
        _ = exited
        return state.withLockedValue { $0.exitStatus }
    }

    /// SIGTERM, then SIGKILL when it has not ended within `grace`.
    func stop(grace: Duration = .seconds(10)) async {
        guard isRunning else { return }
        signal(SIGCONT)
        signal(SIGTERM)
        if await awaitExit(timeout: grace) == nil {
            signal(SIGKILL)
            _ = await awaitExit(timeout: .seconds(5))
        }
    }
}
