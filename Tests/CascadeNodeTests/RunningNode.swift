import CascadeTestSupport
import Foundation

/// A `cascade node` process started for one test, and redis-cli pointed at it.
struct RunningNode {
    let process: ChildProcess
    let port: Int

    static func start(_ extra: [String] = []) async throws -> RunningNode {
        let process = try ChildProcess.cascade(["node", "--service", "shop", "--port", "0", "--log-level", "warning"] + extra)
        let line = try await process.awaitLine { $0.contains("listening on") }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw ChildProcessError.exited(name: "cascade node", status: -1, stderr: "no port in '\(line)'")
        }
        return RunningNode(process: process, port: port)
    }

    /// redis-cli against it.
    var cli: RedisCLI { RedisCLI(port: port) }

    /// Sends raw bytes on a fresh connection and returns what came back before the node closed
    /// it or a second passed.
    func raw(_ bytes: String) async throws -> String {
        let script = "exec 3<>/dev/tcp/127.0.0.1/\(port); printf '%s' \"$PAYLOAD\" >&3; timeout -s KILL 1 cat <&3; true"
        let child = try ChildProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", script], environment: ["PAYLOAD": bytes])
        try child.run()
        child.closeStdin()
        try await child.awaitExit()
        return child.stdout
    }

    var residentKilobytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    }

    func stop() async throws {
        process.signal(SIGTERM)
        try await process.awaitExit()
    }
}
