import CascadeKafka
import CascadeWire
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The Kafka shell around `PartitionOwnership`: sends this instance's beacon on
/// `cascade.buses` every `beaconInterval`, reads everyone's, and moves partitions of the events
/// topics in and out of the events consumer (a `.manual` one) as ownership decides. A killed
/// instance's partitions are read again by the others within `deadAfter` plus a beacon round,
/// whatever any session timeout says.
final class OwnershipDriver: Sendable {
    static let beaconInterval: Duration = .milliseconds(100)

    let instance: String
    private let incarnation = UUID().uuidString
    private let ownership: NIOLockedValueBox<PartitionOwnership>
    private let topics: Topics
    private let producer: KafkaProducer
    private let listener: KafkaConsumer
    private let adminURL = NIOLockedValueBox<String?>(nil)
    private let closed = NIOLockedValueBox(false)
    private let metrics: BusMetrics
    private let logger: Logger

    init(instance: String, configuration: BusConfiguration, metrics: BusMetrics, logger: Logger) throws(KafkaError) {
        self.instance = instance
        self.topics = configuration.topics
        self.metrics = metrics
        self.logger = logger
        ownership = NIOLockedValueBox(PartitionOwnership(
            me: instance, deadAfterMillis: configuration.deadAfterMillis, nowMillis: Timestamps.nowMillis()))
        // Its own small clients: a beacon must not wait behind a backlog of invalidations, nor
        // a peer's behind a storm of registrations.
        var fast = configuration.kafka
        fast.properties["linger.ms"] = "0"
        fast.properties["message.timeout.ms"] = String(configuration.deadAfterMillis * 2)
        producer = try KafkaProducer(configuration: fast, logger: logger)
        var listening = configuration.kafka
        if listening.properties["fetch.wait.max.ms"] == nil { listening.properties["fetch.wait.max.ms"] = "10" }
        listener = try KafkaConsumer(configuration: listening, subscription: .allPartitions(topics: [topics.buses], from: .end), logger: logger)
    }

    /// Where this instance's admin API listens, for the other instances' `/shards`.
    func setAdmin(_ url: String) { adminURL.withLockedValue { $0 = url } }

    var admin: String? { adminURL.withLockedValue { $0 } }

    func setPartitions(_ partitions: [TopicPartition]) {
        ownership.withLockedValue { $0.setPartitions(partitions.map(Self.name)) }
    }

    func becameReady() { ownership.withLockedValue { $0.becameReady() } }

    /// A copy of the current view, for `/shards` and tests.
    var view: PartitionOwnership { ownership.withLockedValue { $0 } }

    /// Reads beacons until the listener closes.
    func listen() async {
        for await event in listener.events {
            guard case .messages(let batch) = event else { continue }
            let now = Timestamps.nowMillis()
            var heard: [BeaconView] = []
            for message in batch {
                guard let value = message.valueBytes, let beacon = try? BusBeacon.decode(value) else { continue }
                heard.append(BeaconView(
                    instance: beacon.instance, ready: beacon.ready, owned: beacon.owned, admin: beacon.admin,
                    registrations: beacon.registrations))
            }
            ownership.withLockedValue { state in
                for beacon in heard { state.heard(beacon, atMillis: now) }
            }
        }
    }

    /// Sends the beacon and decides, every beacon interval, until shut down; `apply` hears
    /// every decision (outside the lock, one at a time) with whether this instance is ready.
    func run(
        registrations: @escaping @Sendable () -> Int, apply: @Sendable (PartitionOwnership.Change, _ ready: Bool) async -> Void
    ) async {
        while !closed.withLockedValue({ $0 }) {
            await beacon(registrations: registrations())
            let now = Timestamps.nowMillis()
            let (change, ready, owned, live, unowned) = ownership.withLockedValue { state in
                (
                    state.decide(nowMillis: now), state.ready, state.owned.count, state.liveReady(nowMillis: now).count,
                    state.unowned(nowMillis: now).count
                )
            }
            if !change.isEmpty {
                logger.info("partition ownership changed", metadata: [
                    "gained": "\(change.gained)", "lost": "\(change.lost)", "taken_from_gone": "\(change.takenFromGone)",
                ])
                metrics.takeovers.increment(by: Int64(change.takenFromGone.count))
            }
            await apply(change, ready)
            metrics.ownedPartitions.set(Double(owned))
            metrics.liveInstances.set(Double(live))
            metrics.unownedPartitions.set(Double(unowned))
            try? await Task.sleep(for: Self.beaconInterval)
        }
    }

    /// Says this instance owns nothing any more (a clean stop, after its last commit), so the
    /// others take its partitions at their next decision instead of after `deadAfter`.
    func sayGoodbye() async {
        ownership.withLockedValue { $0 = PartitionOwnership(me: instance, deadAfterMillis: $0.deadAfterMillis, nowMillis: .max) }
        await beacon(registrations: 0, leaving: true)
        _ = await producer.flush(timeout: .seconds(1))
    }

    func shutdown() async {
        closed.withLockedValue { $0 = true }
        await listener.shutdown(timeout: .seconds(2))
        await producer.shutdown(timeout: .seconds(1))
    }

    private func beacon(registrations: Int, leaving: Bool = false) async {
        let (ready, owned) = ownership.withLockedValue { ($0.ready && !leaving, $0.owned.sorted()) }
        let beacon = BusBeacon(
            instance: instance, incarnation: incarnation, ready: ready, admin: admin, owned: owned,
            registrations: registrations, atMillis: Timestamps.nowMillis())
        do throws(KafkaError) {
            try await producer.produce(topic: topics.buses, key: Array(instance.utf8), value: beacon.encoded(), token: 0)
        } catch {
            logger.warning("cannot send the bus beacon", metadata: ["error": "\(error)"])
        }
    }

    static func name(_ partition: TopicPartition) -> String { "\(partition.topic):\(partition.partition)" }

    static func partition(_ name: String) -> TopicPartition? {
        guard let colon = name.lastIndex(of: ":"), let number = Int32(name[name.index(after: colon)...]) else { return nil }
        return TopicPartition(topic: String(name[..<colon]), partition: number)
    }
}

/// `GET /shards`: every bus instance this one hears, what each owns, and what nobody does.
public struct ShardsReport: Encodable, Sendable {
    public struct Instance: Encodable, Sendable {
        var instance: String
        var admin: String?
        var ready: Bool
        var live: Bool
        var isSelf: Bool
        /// Partitions of the events topics it resolves (`topic:partition`).
        var owned: [String]
        /// Partitions whose state it holds: every instance keeps the whole index and ledger
        /// (so it can take any partition over at once), until state is partitioned too.
        var warm: String
        var registrations: Int
        var heardMillisAgo: Int64?

        enum CodingKeys: String, CodingKey {
            case instance, admin, ready, live, owned, warm, registrations
            case isSelf = "self", heardMillisAgo = "heard_ms_ago"
        }
    }

    var instances: [Instance]
    var partitions: [String]
    var unowned: [String]
}

extension OwnershipDriver {
    func report(registrations: Int = 0) -> ShardsReport {
        let now = Timestamps.nowMillis()
        let adminURL = admin
        return ownership.withLockedValue { state in
            var instances = state.peers.map { id, peer in
                ShardsReport.Instance(
                    instance: id, admin: peer.admin, ready: peer.ready, live: state.isLive(peer, nowMillis: now), isSelf: false,
                    owned: peer.owned.sorted(), warm: "all", registrations: peer.registrations, heardMillisAgo: now - peer.heardAtMillis)
            }
            instances.append(ShardsReport.Instance(
                instance: instance, admin: adminURL, ready: state.ready, live: state.liveReady(nowMillis: now).contains(instance),
                isSelf: true, owned: state.owned.sorted(), warm: "all", registrations: registrations, heardMillisAgo: nil))
            return ShardsReport(
                instances: instances.sorted { $0.instance < $1.instance }, partitions: state.partitions, unowned: state.unowned(nowMillis: now))
        }
    }
}
