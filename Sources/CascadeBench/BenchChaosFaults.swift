import CascadeCheck
import CascadeKafka
import CascadeWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A span during which the system was not whole: from the fault to the end-to-end probe
/// passing again, plus a margin.
struct ChaosFaultPeriod: Sendable {
    var name: String
    var start: UInt64
    var end: UInt64

    func contains(_ time: UInt64) -> Bool { time >= start && time <= end }
}

enum ChaosFault: Sendable {
    case busKill, brokerOutage, nodeRestart

    /// Bus kills spread over the run, the broker outage and the node restart between them.
    static func schedule(busKills: Int, brokerOutage: Bool, nodeRestart: Bool) -> [ChaosFault] {
        var others: [ChaosFault] = []
        if brokerOutage { others.append(.brokerOutage) }
        if nodeRestart { others.append(.nodeRestart) }
        var faults: [ChaosFault] = []
        for kill in 0..<busKills {
            faults.append(.busKill)
            if kill < others.count { faults.append(others[kill]) }
        }
        if busKills < others.count { faults += others[busKills...] }
        return faults
    }
}

/// Injects the faults at their times and says when the system is back, by an end-to-end probe:
/// a key on each node that depends on a sentinel product, an event for it, and both keys gone.
// @unchecked Sendable: only the bench's one driving task touches its state, one step at a time.
final class ChaosFaultInjector: @unchecked Sendable {
    let cluster: ChaosCluster
    let producer: KafkaProducer
    let topics: Topics
    /// When the writers started; fault times count from here. Only the bench's one task
    /// touches this and the two below, one step at a time.
    var started: UInt64 = chaosNow()
    private var sentinelVersion: UInt64 = 1
    private(set) var periods: [ChaosFaultPeriod] = []
    static let margin: UInt64 = 2_000_000_000

    init(cluster: ChaosCluster, producer: KafkaProducer, topics: Topics) {
        self.cluster = cluster
        self.producer = producer
        self.topics = topics
    }

    func elapsed(_ time: UInt64 = chaosNow()) -> String {
        String(format: "%6.1f s", Double(time &- started) / 1e9)
    }

    /// Runs each fault at its share of `seconds`, one after the other.
    func run(_ faults: [ChaosFault], seconds: Int) async throws {
        for (number, fault) in faults.enumerated() {
            let due = started + UInt64(seconds) * 1_000_000_000 * UInt64(number + 1) / UInt64(faults.count + 1)
            let now = chaosNow()
            if due > now { try await Task.sleep(for: .nanoseconds(Int64(due - now))) }
            try await inject(fault)
        }
    }

    private func inject(_ fault: ChaosFault) async throws {
        let start = chaosNow()
        let name: String
        switch fault {
        case .busKill:
            name = "bus SIGKILL + restart"
            printLine("fault at \(elapsed(start)): SIGKILL the bus")
            await cluster.killBus()
            try await cluster.startBus()
            printLine("          \(elapsed()): bus ready again (/readyz 200)")
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

    /// Sets a key on each node that depends on the sentinel product, publishes the sentinel's
    /// next version, and waits until both keys are gone. Returns how long that took, in ms.
    func probe(timeout: Duration = .seconds(90)) async throws -> Int {
        let version = sentinelVersion
        let dependency = "Product#p-sentinel@\(version)"
        let keys = [("catalog", "product:p-sentinel"), ("storefront", "probe:p-sentinel")]
        for (service, key) in keys {
            let client = try NodeClient(address: cluster.nodeAddress(service), timeout: 5, password: nil)
            let reply = try client.command(encodeRESPCommand("SET", key, String(version), "EX", "600", "DEPS", dependency))
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
            let client = try NodeClient(address: cluster.nodeAddress(service), timeout: 5, password: nil)
            while try client.command(encodeRESPCommand("EXISTS", key)) != .integer(0) {
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
    guard let target = URL(string: url) else { return (0, "") }
    var request = URLRequest(url: target)
    request.timeoutInterval = 5
    guard let (data, response) = try? await URLSession.shared.data(for: request) else { return (0, "") }
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
}
