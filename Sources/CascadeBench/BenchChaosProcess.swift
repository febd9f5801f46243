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
