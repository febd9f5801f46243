import CascadeClient
import CascadeProcess
import Foundation

/// Monotonic nanoseconds: every time the chaos bench records (writes, reads, faults) is on this
/// one clock, so windows never mix clocks.
func chaosNow() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

extension ChildProcess {
    /// Starts `executable arguments` as the benchmarks run their processes: standard error
    /// appended to `log`, nothing on standard input.
    static func start(name: String, executable: URL, arguments: [String], log: URL) throws -> ChildProcess {
        let process = try ChildProcess(executable, arguments, name: name, stderrLog: log)
        try process.run()
        process.closeStdin()
        return process
    }
}

extension ChildProcess {
    /// Waits for `cascade bus`'s ready line (admin API listening, state rebuilt); returns the
    /// admin port it names.
    func awaitBusReady(timeout: Duration = .seconds(120)) async throws -> Int {
        let line = try await awaitLine(timeout: timeout) { $0.hasPrefix("cascade bus ready admin=") }
        guard let colon = line.lastIndex(of: ":"), let port = Int(line[line.index(after: colon)...]) else {
            throw OperatorError("cannot read the admin port from '\(line)'")
        }
        return port
    }
}
