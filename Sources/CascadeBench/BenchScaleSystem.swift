import CascadeClient
import CascadeProcess
import CascadeWire
import Foundation
import NIOConcurrencyHelpers

/// The `cascade bus --partitioned-state` processes of one `bench scale` round, on topics of
/// their own: starts, kills and restarts them, and reads what they say (`/shards`, `/metrics`)
/// and what they spent (`/proc/<pid>/stat`).
final class ScaleSystem: Sendable {
    let executable: URL
    let directory: URL
    let round: String
    let topics: Topics
    let bootstrap: String
    let graph: String
    let partitions: Int
    private let state = NIOLockedValueBox(State())

    private struct State {
        var processes: [Int: ChildProcess] = [:]
        var ports: [Int: Int] = [:]
    }

    init(executable: URL, directory: URL, round: String, prefix: String, bootstrap: String, graph: String, partitions: Int) {
        self.executable = executable
        self.directory = directory
        self.round = round
        topics = Topics(prefix: prefix)
        self.bootstrap = bootstrap
        self.graph = graph
        self.partitions = partitions
    }

    func name(_ index: Int) -> String { "\(round)-bus-\(index)" }
    func admin(_ index: Int) -> String { "http://127.0.0.1:\(state.withLockedValue { $0.ports[index] ?? 0 })" }

    /// Starts instance `index` (on the admin port it had, the first time on a free one) and
    /// waits for its ready line.
    func start(_ index: Int) async throws {
        let port = state.withLockedValue { $0.ports[index] ?? 0 }
        let process = try ChildProcess.start(
            name: name(index), executable: executable,
            arguments: [
                "bus", "--graph", graph, "--kafka", bootstrap, "--group", round, "--partitions", String(partitions),
                "--topic-prefix", topics.prefix, "--instance", name(index), "--admin-port", String(port), "--partitioned-state",
                "--log-level", "info",
            ],
            log: directory.appendingPathComponent("\(name(index)).log"))
        state.withLockedValue { $0.processes[index] = process }
        let chosen = try await process.awaitBusReady()
        state.withLockedValue { $0.ports[index] = chosen }
    }

    /// `/shards` of instance `index`, parsed.
    func shards(_ index: Int) async -> BusShards? {
        await BusShards.fetch(admin: admin(index))
    }

    /// The answering instance's own entry of its `/shards`.
    func own(_ index: Int) async -> BusShards.Instance? {
        await shards(index)?.instances.first(where: \.isSelf)
    }

    /// Until every instance is live and ready and every partition owned, as instance 0 sees it.
    func awaitShared(count: Int, timeout: Duration = .seconds(120)) async throws {
        try await until("the \(count) instances to share the partitions", timeout: timeout) {
            guard let shards = await self.shards(0) else { return false }
            return shards.unowned.isEmpty && shards.instances.filter({ $0.live && $0.ready }).count == count
        }
    }

    /// Until each instance holds every registration with an edge in the partitions it holds
    /// warm (`expected`, from their numbers): the registrations are routed and applied. Returns
    /// each instance's own entry.
    func awaitSettled(count: Int, expected: ([Int32]) -> Int, timeout: Duration = .seconds(600)) async throws -> [BusShards.Instance] {
        var settled: [BusShards.Instance] = []
        var last = ""
        do {
            try await until("the registrations to be routed and applied", timeout: timeout) {
                var held: [BusShards.Instance] = []
                for index in 0..<count {
                    guard let own = await self.own(index), own.ready else { return false }
                    held.append(own)
                }
                settled = held
                last = held.map { "\($0.instance) \($0.registrations) of \(expected($0.warmNumbers))" }.joined(separator: ", ")
                return held.allSatisfy { $0.registrations == expected($0.warmNumbers) }
            }
        } catch {
            throw OperatorError("\(error); registrations held: \(last)")
        }
        return settled
    }

    /// How many partitions instance `index` holds rebuilt.
    func warmPartitions(_ index: Int) async throws -> Int {
        guard let own = await own(index) else { throw OperatorError("\(name(index)) does not answer /shards") }
        return own.warmPartitions?.count ?? 0
    }

    /// SIGKILL for instance `index`, started again at once: seconds from spawning it until it
    /// is ready and holds `warm` partitions rebuilt again, as many as before.
    func restart(_ index: Int, warm: Int, count: Int) async throws -> Double {
        if let process = state.withLockedValue({ $0.processes[index] }) {
            process.signal(SIGKILL)
            _ = try? await process.awaitExit(timeout: .seconds(10))
        }
        let started = ContinuousClock.now
        try await start(index)
        try await until("\(name(index)) to hold \(warm) partitions rebuilt again", timeout: .seconds(600)) {
            guard let own = await self.own(index) else { return false }
            return own.ready && (own.warmPartitions?.count ?? 0) >= warm
        }
        let elapsed = ContinuousClock.now - started
        // The others see it back before the next one goes.
        try await awaitShared(count: count)
        return elapsed.inSeconds
    }

    /// A metric of `/metrics` summed over the running instances (unlabelled series and every
    /// labelled one).
    func sum(_ metric: String) async -> Double {
        var total = 0.0
        for index in state.withLockedValue({ Array($0.processes.keys) }) {
            let body = await chaosHTTPGet(admin(index) + "/metrics").body
            for line in body.split(separator: "\n") where line.hasPrefix(metric + " ") || line.hasPrefix(metric + "{") {
                total += line.split(separator: " ").last.flatMap { Double($0) } ?? 0
            }
        }
        return total
    }

    func awaitMetric(_ metric: String, atLeast value: Double, timeout: Duration = .seconds(600)) async throws {
        try await until("\(metric) to reach \(Int(value))", timeout: timeout) { await self.sum(metric) >= value }
    }

    /// CPU seconds (user and system) each instance has used so far, by index.
    func cpuSeconds() -> [Double] {
        let processes = state.withLockedValue { $0.processes }
        return processes.keys.sorted().map { index in Self.cpuSeconds(pid: processes[index]?.pid ?? 0) }
    }

    /// Fields 14 and 15 of `/proc/<pid>/stat`, after the command name (which may hold spaces).
    static func cpuSeconds(pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After ")": state is field 3, so utime (14) and stime (15) are at 11 and 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func stopAll() async {
        let processes = state.withLockedValue { Array($0.processes.values) }
        await withTaskGroup(of: Void.self) { group in
            for process in processes { group.addTask { await process.stop() } }
        }
    }

    /// Asks `condition` 10 times a second until it holds; the admin API offers nothing to await.
    private func until(_ what: String, timeout: Duration, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw OperatorError("bench scale: timed out after \(timeout) waiting for \(what); logs in \(directory.path)")
    }
}
