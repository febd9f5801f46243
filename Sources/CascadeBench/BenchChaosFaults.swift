import CascadeClient
import CascadeKafka
import CascadeWire
import Foundation

/// A span during which the system was not whole: from the fault to the end-to-end probe
/// passing again, plus a margin.
struct ChaosFaultPeriod: Sendable {
    var name: String
    var start: UInt64
    var end: UInt64

    func contains(_ time: UInt64) -> Bool { time >= start && time <= end }
}

enum ChaosFault: Sendable, Equatable {
    case busKill(instance: Int), brokerOutage, nodeRestart

    /// The main phase's faults: bus kills spread over the run and over the instances (kill k
    /// hits instance k % buses), the node restart after the first. The broker outage has a
    /// phase of its own (`ChaosFaultInjector.run`).
    static func schedule(busKills: Int, buses: Int, nodeRestart: Bool) -> [ChaosFault] {
        var faults = (0..<busKills).map { ChaosFault.busKill(instance: $0 % buses) }
        if nodeRestart { faults.insert(.nodeRestart, at: min(1, faults.count)) }
        return faults
    }
}

/// A bus kill's failover: how long after the SIGKILL invalidations flowed again on every
/// partition, and what the instance owned.
struct ChaosFailover: Sendable {
    var instance: Int
    var owned: [Int]
    var millis: Double
}

/// Injects the faults at their times and says when the system is back, by an end-to-end probe:
/// a key on each node that depends on a sentinel product, an event for it, and both keys gone.
// @unchecked Sendable: only the bench's one driving task touches its state, one step at a time.
final class ChaosFaultInjector: @unchecked Sendable {
    let cluster: ChaosCluster
    let producer: KafkaProducer
    let topics: Topics
    let failoverProbe: ChaosFailoverProbe
    /// When the writers started; fault times count from here. Only the bench's one task
    /// touches this and the vars below, one step at a time.
    private(set) var started: UInt64 = chaosNow()
    /// `started` on the wall clock, which nodes stamp values and fences with.
    private(set) var startedWallMillis = Int64(Date().timeIntervalSince1970 * 1000)
    private var sentinelVersion: UInt64 = 1
    /// The failover sentinels' version in the ledger (`ChaosFailoverProbe.place` published 1).
    private var failoverVersion: UInt64 = 1
    private(set) var periods: [ChaosFaultPeriod] = []
    private(set) var failovers: [ChaosFailover] = []
    /// The broker outage's phase of its own: from the start of the writes until the main phase
    /// began or the system was back from the outage, whichever came later. Nil without one.
    private(set) var brokerPhase: ClosedRange<UInt64>?
    static let margin: UInt64 = 2_000_000_000
    /// The broker outage's phase: 10 s of writes, the outage 2 s in.
    static let brokerPhaseSeconds = 10

    init(cluster: ChaosCluster, producer: KafkaProducer, topics: Topics, failoverProbe: ChaosFailoverProbe) {
        self.cluster = cluster
        self.producer = producer
        self.topics = topics
        self.failoverProbe = failoverProbe
    }

    /// The run begins: fault times and the report count from now.
    func start() {
        started = chaosNow()
        startedWallMillis = Int64(Date().timeIntervalSince1970 * 1000)
    }

    func elapsed(_ time: UInt64 = chaosNow()) -> String {
        String(format: "%6.1f s", Double(time &- started) / 1e9)
    }

    /// The broker outage's phase first (when on), then the main phase's faults, each at its
    /// share of `seconds`, one after the other.
    func run(_ faults: [ChaosFault], brokerOutage: Bool, seconds: Int) async throws {
        var mainStart = started
        if brokerOutage {
            try await sleep(until: started + 2_000_000_000)
            try await inject(.brokerOutage)
            mainStart = started + UInt64(Self.brokerPhaseSeconds) * 1_000_000_000
            brokerPhase = started...max(mainStart, periods.last?.end ?? mainStart)
        }
        for (number, fault) in faults.enumerated() {
            try await sleep(until: mainStart + UInt64(seconds) * 1_000_000_000 * UInt64(number + 1) / UInt64(faults.count + 1))
            try await inject(fault)
        }
    }

    private func sleep(until due: UInt64) async throws {
        let now = chaosNow()
        if due > now { try await Task.sleep(for: .nanoseconds(Int64(due - now))) }
    }

    private func inject(_ fault: ChaosFault) async throws {
        let start = chaosNow()
        let name: String
        switch fault {
        case .busKill(let instance):
            name = "\(ChaosCluster.busName(instance)) SIGKILL + restart"
            try await killAndRestart(instance)
        case .brokerOutage:
            name = "broker outage"
            printLine("fault at \(elapsed(start)): SIGSTOP the broker for 3 s")
            cluster.pauseBroker()
            try await Task.sleep(for: .seconds(3))
            cluster.resumeBroker()
            printLine("          \(elapsed()): SIGCONT the broker")
            try await producer.send(topic: ChaosCluster.probeTopic, key: "probe", value: Array("up".utf8))
            printLine("          \(elapsed()): the broker acknowledges again")
        case .nodeRestart:
            name = "storefront restart"
            printLine("fault at \(elapsed(start)): SIGTERM the storefront node")
            await cluster.stopNode("storefront")
            try await cluster.startNode("storefront")
            printLine("          \(elapsed()): storefront listening again on \(cluster.nodeAddress("storefront"))")
        }
        let probe = try await self.probe()
        printLine("          \(elapsed()): an event cascades to both nodes again (probe \(probe) ms)")
        periods.append(ChaosFaultPeriod(name: name, start: start, end: chaosNow() + Self.margin))
    }

    /// SIGKILL for one instance; at once, while it restarts, the sentinels' events and the time
    /// until they are applied on every partition (the others take its share over; with one
    /// instance, nothing resolves until the restart is ready).
    private func killAndRestart(_ instance: Int) async throws {
        let victim = ChaosCluster.busName(instance)
        let catalog = cluster.nodeAddress("catalog")
        let owned = await BusShards.fetch(admin: cluster.busAdmin(instance))?.owned ?? []
        try await failoverProbe.arm(node: catalog, version: failoverVersion)
        failoverVersion += 1
        let killed = chaosNow()
        printLine("fault at \(elapsed(killed)): SIGKILL \(victim) (owning partitions \(owned.map { String($0) }.joined(separator: ",")))")
        await cluster.killBus(instance)
        async let restarted: Void = cluster.startBus(instance)
        let millis = try await failoverProbe.measure(
            node: catalog, version: failoverVersion, producer: producer, topics: topics, since: killed)
        failovers.append(ChaosFailover(instance: instance, owned: owned, millis: millis))
        printLine(String(
            format: "          %@: invalidations flow again on all %d partitions %.0f ms after the SIGKILL", elapsed() as NSString,
            failoverProbe.partitions, millis))
        try await restarted
        printLine("          \(elapsed()): \(victim) ready again (/readyz 200)")
    }

    /// Sets a key on each node that depends on the sentinel product, publishes the sentinel's
    /// next version, and waits until both keys are gone. Returns how long that took, in ms.
    func probe(timeout: Duration = .seconds(90)) async throws -> Int {
        let version = sentinelVersion
        let dependency = "Product#p-sentinel@\(version)"
        let keys = [("catalog", "product:p-sentinel"), ("storefront", "probe:p-sentinel")]
        for (service, key) in keys {
            let client = try await NodeClient(address: cluster.nodeAddress(service), timeout: 5, password: nil)
            let reply = try await client.command(encodeRESPCommand("SET", key, String(version), "EX", "600", "DEPS", dependency))
            guard reply == .simple("OK") else { throw OperatorError("the probe's SET \(key) on \(service) answered \(reply)") }
        }
        sentinelVersion += 1
        let begin = ContinuousClock.now
        let event = DomainEvent(
            ref: EntityRef(entity: "Product", id: "p-sentinel"), op: .update, version: sentinelVersion, origin: "bench",
            atMillis: Int64(Date().timeIntervalSince1970 * 1000), eventID: UUID().uuidString.lowercased())
        try await producer.send(topic: topics.events, key: event.kafkaKey, value: JSONEventEncoder.encode(event))
        // Nodes offer nothing to await for one key, so ask them, 100 times a second, up to the deadline.
        for (service, key) in keys {
            let client = try await NodeClient(address: cluster.nodeAddress(service), timeout: 5, password: nil)
            while try await client.command(encodeRESPCommand("EXISTS", key)) != .integer(0) {
                guard ContinuousClock.now - begin < timeout else {
                    throw OperatorError("\(key) on \(service) still there \(timeout) after the sentinel's event: the system did not come back")
                }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        return Int((ContinuousClock.now - begin).inSeconds * 1000)
    }
}

/// One GET against the bus's admin API.
func chaosHTTPGet(_ url: String) async -> (status: Int, body: String) {
    guard let (status, body) = try? await HTTPGet.fetch(url, timeout: 5) else { return (0, "") }
    return (status, String(decoding: body, as: UTF8.self))
}
