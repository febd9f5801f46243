import CascadeCheck
import Foundation
import NIOConcurrencyHelpers

/// The system under test as real processes of this same binary: `cascade kafka`, `cascade bus`
/// and one `cascade node` per service. Starts, kills, pauses and restarts them, and stops all of
/// them on every exit path.
final class ChaosCluster: Sendable {
    let executable: URL
    let directory: URL
    let graphDirectory: String
    let maxStaleness: String?
    private let state = NIOLockedValueBox(State())

    private struct State {
        var kafka: ChaosProcess?
        var bus: ChaosProcess?
        var nodes: [String: ChaosProcess] = [:]
        var bootstrap = ""
        var adminPort = 0
        var nodePorts: [String: Int] = [:]
        var staleness: String?
        var stopping = false
    }

    init(directory: URL, graphDirectory: String, maxStaleness: String?) {
        // The bench runs the very binary that runs it.
        executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        self.directory = directory
        self.graphDirectory = graphDirectory
        self.maxStaleness = maxStaleness
        state.withLockedValue { $0.staleness = maxStaleness }
    }

    var bootstrap: String { state.withLockedValue { $0.bootstrap } }
    var admin: String { "http://127.0.0.1:\(state.withLockedValue { $0.adminPort })" }
    func nodeAddress(_ service: String) -> String { "127.0.0.1:\(state.withLockedValue { $0.nodePorts[service] ?? 0 })" }
    /// The `--max-staleness` the nodes run with, nil when absent or refused.
    var stalenessInEffect: String? { state.withLockedValue { $0.staleness } }

    private func spawn(_ name: String, _ arguments: [String]) throws -> ChaosProcess {
        guard !state.withLockedValue({ $0.stopping }) else { throw OperatorError("stopping") }
        return try ChaosProcess(
            name: name, executable: executable, arguments: arguments, log: directory.appendingPathComponent("\(name).log"))
    }

    /// Runs `cascade graph validate` on the bench's graph.
    func validateGraph() async throws {
        let validate = try spawn("graph-validate", ["graph", "validate", "--graph", graphDirectory])
        let status = await validate.awaitExit(timeout: .seconds(60))
        guard status == 0 else {
            let log = (try? String(contentsOf: directory.appendingPathComponent("graph-validate.log"), encoding: .utf8)) ?? ""
            throw OperatorError("cascade graph validate rejected the bench's graph (status \(status.map(String.init) ?? "none")): \(log)")
        }
    }

    func startKafka() async throws {
        let kafka = try spawn("kafka", ["kafka", "--partitions", "8", "--topic", ChaosCluster.probeTopic, "--log-level", "warning"])
        state.withLockedValue { $0.kafka = kafka }
        let line = try await kafka.awaitLine(timeout: .seconds(60)) { !$0.isEmpty }
        state.withLockedValue { $0.bootstrap = line.trimmingCharacters(in: .whitespaces) }
    }

    /// A topic nobody consumes, for the probe message that says the broker answers again.
    static let probeTopic = "cascade.chaos.probe"

    /// Starts the bus (on the admin port it had, the first time on a free one) and waits for its
    /// ready line: admin API listening, index and ledger rebuilt.
    func startBus() async throws {
        let (bootstrap, port) = state.withLockedValue { ($0.bootstrap, $0.adminPort) }
        let bus = try spawn("bus", [
            "bus", "--graph", graphDirectory, "--kafka", bootstrap, "--admin-port", String(port), "--partitions", "8",
            // A killed member's partitions move after the session timeout; keep it short as `cascade dev` does.
            "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500", "--log-level", "warning",
        ])
        state.withLockedValue { $0.bus = bus }
        let line = try await bus.awaitLine(timeout: .seconds(120)) { $0.hasPrefix("cascade bus ready admin=") }
        guard let colon = line.lastIndex(of: ":"), let chosen = Int(line[line.index(after: colon)...]) else {
            throw OperatorError("cannot read the admin port from '\(line)'")
        }
        state.withLockedValue { $0.adminPort = chosen }
    }

    func killBus() async {
        guard let bus = state.withLockedValue({ $0.bus }) else { return }
        bus.signal(SIGKILL)
        _ = await bus.awaitExit(timeout: .seconds(10))
    }

    /// Starts a node for `service` (on its old port when it had one) and waits until it listens
    /// and its invalidation consumer is ready. A node that refuses `--max-staleness` is started
    /// again without it, once, with a note.
    func startNode(_ service: String) async throws {
        let (bootstrap, port, staleness) = state.withLockedValue { ($0.bootstrap, $0.nodePorts[service] ?? 0, $0.staleness) }
        var arguments = ["node", "--service", service, "--port", String(port), "--kafka", bootstrap, "--log-level", "warning"]
        if let staleness { arguments += ["--max-staleness", staleness] }
        let node = try spawn(service, arguments)
        state.withLockedValue { $0.nodes[service] = node }
        let listening: String
        do {
            listening = try await node.awaitLine(timeout: .seconds(60)) { $0.contains("listening on") }
        } catch where staleness != nil && !node.isRunning {
            printLine("note: cascade node refused --max-staleness \(staleness ?? "") (not in this build); running the nodes without it")
            state.withLockedValue { $0.staleness = nil }
            return try await startNode(service)
        }
        guard let colon = listening.lastIndex(of: ":"), let chosen = Int(listening[listening.index(after: colon)...]) else {
            throw OperatorError("cannot read the port from '\(listening)'")
        }
        state.withLockedValue { $0.nodePorts[service] = chosen }
        _ = try await node.awaitLine(timeout: .seconds(60)) { $0.contains(" ready") }
    }

    /// SIGTERM: a clean stop, as an orchestrator restarting the node would do.
    func stopNode(_ service: String) async {
        guard let node = state.withLockedValue({ $0.nodes[service] }) else { return }
        await node.stop()
    }

    func pauseBroker() { state.withLockedValue { $0.kafka }?.signal(SIGSTOP) }
    func resumeBroker() { state.withLockedValue { $0.kafka }?.signal(SIGCONT) }

    /// Stops the nodes and the bus, then the broker they need to shut down cleanly.
    func stopAll() async {
        let (nodes, bus, kafka) = state.withLockedValue { state in
            state.stopping = true
            return (Array(state.nodes.values), state.bus, state.kafka)
        }
        kafka?.signal(SIGCONT)
        await withTaskGroup(of: Void.self) { group in
            for node in nodes { group.addTask { await node.stop() } }
            if let bus { group.addTask { await bus.stop() } }
        }
        await kafka?.stop()
    }

    /// For a signal handler: no waiting, nothing left behind.
    func killAll() {
        let all = state.withLockedValue { state in
            state.stopping = true
            return Array(state.nodes.values) + [state.bus, state.kafka].compactMap { $0 }
        }
        for process in all {
            process.signal(SIGCONT)
            process.signal(SIGKILL)
        }
    }
}
