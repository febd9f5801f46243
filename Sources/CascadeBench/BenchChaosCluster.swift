import CascadeClient
import CascadeProcess
import Foundation
import NIOConcurrencyHelpers

/// The system under test as real processes of this same binary: `cascade kafka`, `buses`
/// `cascade bus` instances (`bus-0` ...) and one `cascade node` per service. Starts, kills,
/// pauses and restarts them, and stops all of them on every exit path.
final class ChaosCluster: Sendable {
    let executable: URL
    let directory: URL
    let graphDirectory: String
    let maxStaleness: String?
    let buses: Int
    /// The buses run with `--partitioned-state`.
    let partitionedState: Bool
    /// The buses' `--log-level`; info by default: the log says when partitions moved and what a
    /// restart rebuilt.
    let busLogLevel: String
    private let state: NIOLockedValueBox<State>

    /// Partitions of every topic: the events topic's are what bus instances share.
    static let partitions = 8

    private struct State {
        var kafka: ChildProcess?
        /// Bus instance i, and the admin port it keeps across restarts (0 until first chosen).
        var buses: [ChildProcess?]
        var busPorts: [Int]
        var nodes: [String: ChildProcess] = [:]
        /// `cascade check --watch`, beside the truth.
        var watch: ChildProcess?
        var bootstrap = ""
        var nodePorts: [String: Int] = [:]
        var staleness: String?
        var stopping = false
    }

    init(directory: URL, graphDirectory: String, maxStaleness: String?, buses: Int, partitionedState: Bool = false, busLogLevel: String = "info") {
        self.partitionedState = partitionedState
        self.busLogLevel = busLogLevel
        // The bench runs the very binary that runs it.
        executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        self.directory = directory
        self.graphDirectory = graphDirectory
        self.maxStaleness = maxStaleness
        self.buses = buses
        state = NIOLockedValueBox(State(buses: Array(repeating: nil, count: buses), busPorts: Array(repeating: 0, count: buses)))
        state.withLockedValue { $0.staleness = maxStaleness }
    }

    var bootstrap: String { state.withLockedValue { $0.bootstrap } }

    static func busName(_ index: Int) -> String { "bus-\(index)" }

    /// The admin API of instance `index`.
    func busAdmin(_ index: Int) -> String { "http://127.0.0.1:\(state.withLockedValue { $0.busPorts[index] })" }

    /// The admin APIs of the instances running now, by index.
    var liveBusAdmins: [(index: Int, admin: String)] {
        state.withLockedValue { state in
            state.buses.indices.filter { state.buses[$0]?.isRunning == true }.map { ($0, "http://127.0.0.1:\(state.busPorts[$0])") }
        }
    }

    /// Any live instance's admin API (bus-0 unless it is down): every instance holds the whole
    /// index and ledger and hears every node, so any one answers for the system.
    var admin: String { liveBusAdmins.first?.admin ?? busAdmin(0) }
    func nodeAddress(_ service: String) -> String { "127.0.0.1:\(state.withLockedValue { $0.nodePorts[service] ?? 0 })" }
    /// The `--max-staleness` the nodes run with, nil when absent or refused.
    var stalenessInEffect: String? { state.withLockedValue { $0.staleness } }

    private func spawn(_ name: String, _ arguments: [String]) throws -> ChildProcess {
        guard !state.withLockedValue({ $0.stopping }) else { throw OperatorError("stopping") }
        return try ChildProcess.start(
            name: name, executable: executable, arguments: arguments, log: directory.appendingPathComponent("\(name).log"))
    }

    /// Runs `cascade graph validate` on the bench's graph.
    func validateGraph() async throws {
        let validate = try spawn("graph-validate", ["graph", "validate", "--graph", graphDirectory])
        let status = try? await validate.awaitExit(timeout: .seconds(60))
        guard status == 0 else {
            let log = (try? String(contentsOf: directory.appendingPathComponent("graph-validate.log"), encoding: .utf8)) ?? ""
            throw OperatorError("cascade graph validate rejected the bench's graph (status \(status.map(String.init) ?? "none")): \(log)")
        }
    }

    func startKafka() async throws {
        let kafka = try spawn("kafka", ["kafka", "--partitions", String(Self.partitions), "--topic", ChaosCluster.probeTopic, "--log-level", "warning"])
        state.withLockedValue { $0.kafka = kafka }
        let line = try await kafka.awaitLine(timeout: .seconds(60)) { !$0.isEmpty }
        state.withLockedValue { $0.bootstrap = line.trimmingCharacters(in: .whitespaces) }
    }

    /// A topic nobody consumes, for the probe message that says the broker answers again.
    static let probeTopic = "cascade.chaos.probe"

    /// Starts bus instance `index` under its stable name (on the admin port it had, the first
    /// time on a free one) and waits for its ready line: admin API listening, index and ledger
    /// rebuilt. Its log is `bus-<index>.log`, appended to across restarts.
    func startBus(_ index: Int) async throws {
        let (bootstrap, port) = state.withLockedValue { ($0.bootstrap, $0.busPorts[index]) }
        let bus = try spawn(Self.busName(index), [
            "bus", "--graph", graphDirectory, "--kafka", bootstrap, "--admin-port", String(port),
            "--partitions", String(Self.partitions), "--instance", Self.busName(index), "--log-level", busLogLevel,
        ] + (partitionedState ? ["--partitioned-state"] : []))
        state.withLockedValue { $0.buses[index] = bus }
        let chosen = try await bus.awaitBusReady()
        state.withLockedValue { $0.busPorts[index] = chosen }
    }

    /// Waits until every instance is live and ready and the partitions are shared out, none
    /// unowned, with the same shares for 300 ms (an instance that has just turned ready takes
    /// its share a beacon round later), as bus-0's `/shards` says; returns each one's share by name.
    /// The admin API offers nothing to subscribe to, so it is asked 20 times a second.
    func awaitShared(timeout: Duration = .seconds(60)) async throws -> [String: [Int]] {
        let deadline = ContinuousClock.now + timeout
        var last: (shares: [String: [Int]], since: ContinuousClock.Instant)?
        while ContinuousClock.now < deadline {
            if let shards = await BusShards.fetch(admin: busAdmin(0)), shards.unowned.isEmpty,
               shards.instances.filter({ $0.live && $0.ready }).count == buses {
                let shares = Dictionary(uniqueKeysWithValues: shards.instances.map { ($0.instance, $0.partitions) })
                if let last, last.shares == shares {
                    if ContinuousClock.now - last.since >= .milliseconds(300) { return shares }
                } else {
                    last = (shares, ContinuousClock.now)
                }
            } else {
                last = nil
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw OperatorError("the \(buses) bus instances did not share the partitions within \(timeout)")
    }

    /// SIGKILL for instance `index`; returns once it has exited.
    func killBus(_ index: Int) async {
        guard let bus = state.withLockedValue({ $0.buses[index] }) else { return }
        bus.signal(SIGKILL)
        _ = try? await bus.awaitExit(timeout: .seconds(10))
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

    func spawnWatch(_ arguments: [String]) throws -> ChildProcess {
        let watch = try spawn("watch", arguments)
        state.withLockedValue { $0.watch = watch }
        return watch
    }

    func pauseBroker() { state.withLockedValue { $0.kafka }?.signal(SIGSTOP) }
    func resumeBroker() { state.withLockedValue { $0.kafka }?.signal(SIGCONT) }

    /// Stops the nodes and the bus instances, then the broker they need to shut down cleanly.
    func stopAll() async {
        let (nodes, buses, kafka) = state.withLockedValue { state in
            state.stopping = true
            return (Array(state.nodes.values) + [state.watch].compactMap { $0 }, state.buses.compactMap { $0 }, state.kafka)
        }
        kafka?.signal(SIGCONT)
        await withTaskGroup(of: Void.self) { group in
            for process in nodes + buses { group.addTask { await process.stop() } }
        }
        await kafka?.stop()
    }

    /// For a signal handler: no waiting, nothing left behind.
    func killAll() {
        let all = state.withLockedValue { state in
            state.stopping = true
            return Array(state.nodes.values) + state.buses.compactMap { $0 } + [state.watch, state.kafka].compactMap { $0 }
        }
        for process in all {
            process.signal(SIGCONT)
            process.signal(SIGKILL)
        }
    }
}
