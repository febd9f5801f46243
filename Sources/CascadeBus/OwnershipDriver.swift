import CascadeGraph
import CascadeKafka
import CascadeSync
import CascadeWire
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The Kafka shell around `PartitionOwnership`: sends this instance's beacon on
/// `cascade.buses` every `beaconInterval`, reads everyone's, and moves partitions of the events
/// topics in and out of the events consumer (a `.manual` one) as ownership decides. A killed
/// instance's partitions are read again by the others within `deadAfter` plus a beacon round,
/// whatever any session timeout says.
///
/// Liveness never waits for the cooperative pool: beacons are sent and decisions taken on a
/// thread of their own, and beacons heard are noted on the listener's poll thread. A bus busy
/// resolving (or a race-check wave holding the pool for a moment) is then still heard on
/// time, and is not taken for gone by its peers; only moving partitions in the events
/// consumer waits for the pool.
final class OwnershipDriver: Sendable {
    static let beaconInterval: Duration = .milliseconds(100)
    /// `--dead-after-ms`'s least value: within it an instance has heard every live peer.
    static let deadAfterFloorMillis: Int64 = 200

    let instance: String
    private let incarnation = UUID().uuidString
    private let ownership: NIOLockedValueBox<PartitionOwnership>
    private let topics: Topics
    private let producer: KafkaProducer
    private let listener: KafkaConsumer
    private let adminURL = NIOLockedValueBox<String?>(nil)
    /// Registrations held, as the beacon tells them (kept by the bus: the index's own count
    /// takes its lock, which a rebuild can hold for a while).
    private let registrations = NIOLockedValueBox(0)
    /// When a failed beacon was last logged: a broker out of reach fails ten a second.
    private let lastWarningMillis = NIOLockedValueBox<Int64>(0)
    /// Set once the goodbye is said: no beacon after it. Held while a beacon is enqueued.
    private let closed = NIOLockedValueBox(false)
    /// Decisions for `follow`, in order.
    private let changes: AsyncStream<Decision>
    private let decided: AsyncStream<Decision>.Continuation
    private let metrics: BusMetrics
    private let logger: Logger
    /// Partitioned state: what the beacons say about families with dependents goes here, and
    /// this instance's goes out with its beacons.
    private let filter: HopFilter?
    /// Partitioned state: which partitions this instance holds warm, asked before each decision.
    private let warmth = Hook<Void, Set<String>>()

    /// A change of ownership for the events consumer, and whether this instance is ready.
    struct Decision: Sendable {
        var change: PartitionOwnership.Change
        var ready: Bool
        /// The partitions it would take over first (`PartitionOwnership.standby`).
        var standby: Set<String>
    }

    init(
        instance: String, configuration: BusConfiguration, metrics: BusMetrics, logger: Logger, filter: HopFilter? = nil
    ) throws(KafkaError) {
        self.instance = instance
        self.filter = filter
        self.topics = configuration.topics
        self.metrics = metrics
        self.logger = logger
        let ownership = NIOLockedValueBox(PartitionOwnership(
            me: instance, deadAfterMillis: configuration.deadAfterMillis, nowMillis: Timestamps.nowMillis()))
        self.ownership = ownership
        (changes, decided) = AsyncStream.makeStream(of: Decision.self)
        // Its own small clients: a beacon must not wait behind a backlog of invalidations, nor
        // a peer's behind a storm of registrations.
        var fast = configuration.kafka
        fast.properties["linger.ms"] = "0"
        fast.properties["message.timeout.ms"] = String(configuration.deadAfterMillis * 2)
        producer = try KafkaProducer(configuration: fast, logger: logger)
        var listening = configuration.kafka
        if listening.properties["fetch.wait.max.ms"] == nil { listening.properties["fetch.wait.max.ms"] = "10" }
        listener = try KafkaConsumer(
            configuration: listening, subscription: .allPartitions(topics: [topics.buses], from: .end), logger: logger,
            observer: { [startedMillis = Timestamps.nowMillis()] batch in
                Self.hear(batch, into: ownership, filter: filter, startedMillis: startedMillis)
            })
    }

    /// Where this instance's admin API listens, for the other instances' `/shards`.
    func setAdmin(_ url: String) { adminURL.withLockedValue { $0 = url } }

    var admin: String? { adminURL.withLockedValue { $0 } }

    func setPartitions(_ partitions: [TopicPartition]) {
        ownership.withLockedValue { $0.setPartitions(partitions.map(Self.name)) }
    }

    func setRegistrations(_ count: Int) { registrations.withLockedValue { $0 = count } }

    func becameReady() { ownership.withLockedValue { $0.becameReady() } }

    /// Partitioned state: partitions move only to an instance that holds them warm; `warm`
    /// says which this one does (`topic:partition`).
    func gateOnWarmth(_ warm: @escaping @Sendable () -> Set<String>) {
        warmth.install(warm)
        ownership.withLockedValue { $0.gatesOnWarmth = true }
    }

    /// A copy of the current view, for `/shards` and tests.
    var view: PartitionOwnership { ownership.withLockedValue { $0 } }

    /// Starts sending this instance's beacons (they are heard from the start); then hands every decision to
    /// `apply` (one at a time, outside any lock) until shut down.
    func run(apply: @Sendable (PartitionOwnership.Change, _ ready: Bool, _ standby: Set<String>) async -> Void) async {
        let thread = Thread { [self] in beaconLoop() }
        thread.name = "cascade-bus-beacon"
        thread.start()
        for await decision in changes {
            await apply(decision.change, decision.ready, decision.standby)
        }
    }

    /// On the listener's poll thread: notes each beacon heard, with the time it arrived.
    private static func hear(
        _ batch: [KafkaMessage], into ownership: NIOLockedValueBox<PartitionOwnership>, filter: HopFilter?, startedMillis: Int64
    ) {
        let now = Timestamps.nowMillis()
        // A family first heard of in the first beacon rounds was known before this instance
        // started; one heard of later is new to the system, since about now.
        let familiesNewSince = now - startedMillis > 2 * deadAfterFloorMillis ? now : nil
        var heard: [BeaconView] = []
        for message in batch {
            guard let value = message.valueBytes, let beacon = try? BusBeacon.decode(value) else { continue }
            if let filter, let families = beacon.families { filter.learn(families: families, atMillis: familiesNewSince) }
            heard.append(BeaconView(
                instance: beacon.instance, ready: beacon.ready, owned: beacon.owned, admin: beacon.admin,
                registrations: beacon.registrations, warm: beacon.warm ?? []))
        }
        ownership.withLockedValue { state in
            for beacon in heard { state.heard(beacon, atMillis: now) }
        }
    }

    /// On its own thread: a beacon and a decision every beacon interval, until the goodbye.
    private func beaconLoop() {
        var announcedReady = false
        var announcedStandby = Set<String>()
        let interval = Double(Self.beaconInterval.components.attoseconds) / 1e18 + Double(Self.beaconInterval.components.seconds)
        while beacon() {
            let now = Timestamps.nowMillis()
            let warm = warmth(())
            let (change, ready, owned, live, unowned, standby) = ownership.withLockedValue { state in
                if let warm { state.setWarm(warm) }
                return (
                    state.decide(nowMillis: now), state.ready, state.owned.count, state.liveReady(nowMillis: now).count,
                    state.unowned(nowMillis: now).count, state.standby(nowMillis: now)
                )
            }
            if !change.isEmpty {
                logger.info("partition ownership changed", metadata: [
                    "gained": "\(change.gained)", "lost": "\(change.lost)", "taken_from_gone": "\(change.takenFromGone)",
                ])
                metrics.takeovers.increment(by: Int64(change.takenFromGone.count))
            }
            if !change.isEmpty || (ready && !announcedReady) || standby != announcedStandby {
                announcedReady = ready
                announcedStandby = standby
                decided.yield(Decision(change: change, ready: ready, standby: standby))
            }
            metrics.ownedPartitions.set(Double(owned))
            metrics.liveInstances.set(Double(live))
            metrics.unownedPartitions.set(Double(unowned))
            Thread.sleep(forTimeInterval: interval)
        }
        decided.finish()
    }

    /// Says this instance owns nothing any more (a clean stop, after its last commit), so the
    /// others take its partitions at their next decision instead of after `deadAfter`.
    func sayGoodbye() async {
        closed.withLockedValue { closed in
            closed = true
            ownership.withLockedValue { $0 = PartitionOwnership(me: instance, deadAfterMillis: $0.deadAfterMillis, nowMillis: .max) }
            send(leaving: true)
        }
        _ = await producer.flush(timeout: .seconds(1))
    }

    func shutdown() async {
        closed.withLockedValue { $0 = true }
        decided.finish()
        await listener.shutdown(timeout: .seconds(2))
        await producer.shutdown(timeout: .seconds(1))
    }

    /// Sends this instance's beacon unless the goodbye was said; false then.
    private func beacon() -> Bool {
        closed.withLockedValue { closed in
            guard !closed else { return false }
            send(leaving: false)
            return true
        }
    }

    private func send(leaving: Bool) {
        let (ready, owned, warm, gatesOnWarmth) = ownership.withLockedValue {
            ($0.ready && !leaving, $0.owned.sorted(), $0.warm, $0.gatesOnWarmth)
        }
        var beacon = BusBeacon(
            instance: instance, incarnation: incarnation, ready: ready, admin: admin, owned: owned,
            registrations: leaving ? 0 : registrations.withLockedValue { $0 }, atMillis: Timestamps.nowMillis())
        beacon.families = filter.map { $0.families.sorted() }
        beacon.warm = gatesOnWarmth ? warm.sorted() : nil
        do throws(KafkaError) {
            // Never waits: a beacon that finds the queue full is replaced by the next one.
            try producer.produceWithoutWaiting(topic: topics.buses, key: Array(instance.utf8), value: beacon.encoded(), token: 0)
        } catch {
            let now = Timestamps.nowMillis()
            let due = lastWarningMillis.withLockedValue { last in
                guard now - last >= 5000 else { return false }
                last = now
                return true
            }
            if due { logger.warning("cannot send the bus beacon", metadata: ["error": "\(error)"]) }
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
        /// Partitions whose state it holds: "all" (every instance keeps the whole index and
        /// ledger, so it can take any partition over at once), or "owned and standby" with
        /// `--partitioned-state` (those it would take over first are kept warm).
        var warm: String
        /// The partitions it would take over first, if their owner went.
        var standby: [String]
        /// Partitioned state: the partitions whose state it holds rebuilt; a partition moves
        /// only to an instance that lists it here.
        var warmPartitions: [String]?
        var registrations: Int
        /// The answering instance only: about how many bytes its index takes.
        var indexBytes: Int?
        var heardMillisAgo: Int64?

        enum CodingKeys: String, CodingKey {
            case instance, admin, ready, live, owned, warm, standby, registrations
            case indexBytes = "index_bytes"
            case warmPartitions = "warm_partitions"
            case isSelf = "self", heardMillisAgo = "heard_ms_ago"
        }
    }

    var instances: [Instance]
    var partitions: [String]
    var unowned: [String]
}

extension OwnershipDriver {
    func report(registrations: Int = 0, indexBytes: Int? = nil, warm: String = "all") -> ShardsReport {
        let now = Timestamps.nowMillis()
        let adminURL = admin
        return ownership.withLockedValue { state in
            let live = state.liveReady(nowMillis: now)
            var standbys: [String: [String]] = [:]
            for partition in state.partitions {
                if let standby = state.standby(of: partition, among: live) { standbys[standby, default: []].append(partition) }
            }
            var instances = state.peers.map { id, peer in
                ShardsReport.Instance(
                    instance: id, admin: peer.admin, ready: peer.ready, live: state.isLive(peer, nowMillis: now), isSelf: false,
                    owned: peer.owned.sorted(), warm: warm, standby: standbys[id] ?? [],
                    warmPartitions: state.gatesOnWarmth ? peer.warm.sorted() : nil, registrations: peer.registrations,
                    heardMillisAgo: now - peer.heardAtMillis)
            }
            instances.append(ShardsReport.Instance(
                instance: instance, admin: adminURL, ready: state.ready, live: state.liveReady(nowMillis: now).contains(instance),
                isSelf: true, owned: state.owned.sorted(), warm: warm, standby: standbys[instance] ?? [],
                warmPartitions: state.gatesOnWarmth ? state.warm.sorted() : nil, registrations: registrations, indexBytes: indexBytes,
                heardMillisAgo: nil))
            return ShardsReport(
                instances: instances.sorted { $0.instance < $1.instance }, partitions: state.partitions, unowned: state.unowned(nowMillis: now))
        }
    }
}
