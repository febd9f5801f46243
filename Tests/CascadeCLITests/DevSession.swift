import CascadeTestSupport
import Foundation

/// A real `cascade dev` process for one test, driven with redis-cli, kcat and the binary itself.
struct DevSession {
    let process: ChildProcess
    let statusPath: String
    let kafka: String
    let admin: String
    let nodes: [String: Int]
    /// The gateway's URL, with `--gateway-upstream`.
    var gateway: String?

    static func start(_ extraArguments: [String] = []) async throws -> DevSession {
        let statusPath = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-dev-\(UUID().uuidString).json").path
        let graph = CascadeBinary.packageRoot.appendingPathComponent("graph").path
        let process = try ChildProcess.cascade([
            "dev", "--graph", graph, "--status-file", statusPath, "--node-port", "0", "--admin-port", "0", "--watch-port", "0", "--log-level", "warning",
        ] + extraArguments)
        guard try await eventually(timeout: .seconds(60), { FileManager.default.fileExists(atPath: statusPath) || !process.isRunning }),
            FileManager.default.fileExists(atPath: statusPath)
        else { throw ChildProcessError.exited(name: "cascade dev", status: -1, stderr: process.stderr) }
        let data = try Data(contentsOf: URL(fileURLWithPath: statusPath))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        let nodes = (object["nodes"] as? [String: String] ?? [:]).compactMapValues { address in
            address.split(separator: ":").last.flatMap { Int($0) }
        }
        return DevSession(
            process: process, statusPath: statusPath, kafka: object["kafka"] as? String ?? "", admin: object["admin"] as? String ?? "",
            nodes: nodes, gateway: object["gateway"] as? String)
    }

    /// Ends the session at once and removes its status file, which a killed `cascade dev`
    /// cannot (hundreds were left in the temporary directory).
    func kill() {
        process.signal(SIGKILL)
        try? FileManager.default.removeItem(atPath: statusPath)
    }

    /// redis-cli against one service's node; output without trailing newlines.
    @discardableResult
    func cli(_ service: String, _ arguments: String...) async throws -> String {
        try await RedisCLI(port: nodes[service] ?? 0)(arguments)
    }

    /// Publishes an event with kcat, keyed Entity#id as services do.
    func publish(_ entity: String, _ id: String, version: Int) async throws {
        let event = #"{"entity":"\#(entity)","id":"\#(id)","op":"update","version":\#(version),"origin":"test"}"#
        let result = try await runCommand("kcat", ["-b", kafka, "-P", "-t", "cascade.events", "-k", "\(entity)#\(id)"], stdin: event + "\n")
        try result.requireSuccess()
    }

    /// `cascade publish --wait`: returns once every node applied the event.
    func publishAndWait(_ ref: String, version: Int) async throws -> CommandResult {
        try await runCommand(
            CascadeBinary.url.path, ["publish", ref, "--version", String(version), "--status-file", statusPath, "--wait", "--wait-timeout", "20s"])
    }

    func stop() async throws -> Int32 {
        process.signal(SIGINT)
        return try await process.awaitExit(timeout: .seconds(60))
    }
}
