import CascadeGraph
import CascadeKafka
import CascadeWire
import Foundation
import Logging

/// Reads `cascade.deps` into the instance index and `cascade.ledger` into the ledger, from the
/// beginning, then keeps following both. Ready once both are read up to the markers written
/// at start (the end of each partition as it was then).
///
/// Every registration is race-checked once (`RegistrationRaceCheck`): live ones as they come,
/// and at start those a previous bus read but may not have checked. The positions up to which
/// registrations were checked, and their invalidations delivered, are committed under the
/// group `<bus group>.deps-checked`, so a bus killed between reading a registration and
/// checking it leaves the check to the next one.
// @unchecked Sendable: shared state (`pendingEnds`, `checkedFrom`, readiness) is under `lock`; the rest is touched only by `run`, on one task.
final class StateFollower: @unchecked Sendable {
    private let consumer: KafkaConsumer
    private let topics: Topics
    private let index: InstanceIndex
    private let ledger: Ledger
    private let raceCheck: RegistrationRaceCheck
    private let send: @Sendable ([OutboundMessage]) async -> Void
    private let onIndexed: (@Sendable (Int) -> Void)?
    private let metrics: BusMetrics
    private let logger: Logger
    let nodes: NodeDirectory
    private let lock = NSLock()
    /// Per topic and partition, the marker offset still to be reached.
    private var pendingEnds: [String: [Int32: Int64]] = [:]
    /// Per partition of `cascade.deps`, the first offset no bus is known to have checked: the
    /// committed position, or past this bus's start marker (published since it started).
    private var checkedFrom: [Int32: Int64] = [:]
    /// Read during the replay at or after `checkedFrom`: checked once the state is rebuilt.
    private var unchecked: [Registration] = []
    /// Per partition of `cascade.deps`, the next offset once everything read is checked.
    private var checkedThrough: [Int32: Int64] = [:]
    private var committedAt = ContinuousClock.now
    /// Live registrations of the last `latelyMillis`, with when each was read (touched by `run`
    /// only): what `recheck(readSince:)` checks again.
    private var lately: [(readAtMillis: Int64, registration: Registration)] = []
    private var latelyStart = 0
    /// Asked by `recheck`, done by `run` after its next batch: the earliest read time to check again.
    private var recheckSince: Int64?
    static let latelyMillis: Int64 = 3000
    static let latelyLimit = 200_000
    private var readyContinuations: [CheckedContinuation<Void, Never>] = []
    private var isReady = false
    private var waitingCancelled = false

    /// Header naming the bus instance that wrote a ledger record.
    static let writerHeader = "cascade-writer"
    /// This instance's id: its own records are in its ledger already, decoding them again
    /// would cost as much as the event itself.
    private let writer: [UInt8]
    /// The index statistics walk the whole index: refreshed at most once a second.
    private var indexGaugeAt = ContinuousClock.now - .seconds(1)

    init(
        configuration: BusConfiguration, index: InstanceIndex, ledger: Ledger, raceCheck: RegistrationRaceCheck, nodes: NodeDirectory,
        metrics: BusMetrics, writer: String, logger: Logger, send: @escaping @Sendable ([OutboundMessage]) async -> Void
    ) throws {
        self.writer = Array(writer.utf8)
        topics = configuration.topics
        consumer = try KafkaConsumer(
            configuration: configuration.kafka,
            subscription: .allPartitions(topics: [topics.deps, topics.ledger, topics.nodes], from: .beginning),
            logger: logger, maxBatch: configuration.consumerBatch, commitGroup: configuration.groupID + ".deps-checked")
        self.index = index
        self.ledger = ledger
        self.nodes = nodes
        self.raceCheck = raceCheck
        self.metrics = metrics
        self.logger = logger
        self.send = send
        onIndexed = configuration.onIndexed
    }

    var ready: Bool { lock.withLock { isReady } }

    /// Sets the offsets to reach before the state counts as rebuilt, and learns how far the
    /// registrations were checked (nothing committed: a first start, all counts as checked).
    func expect(_ ends: [String: [Int32: Int64]]) async {
        let partitions = (ends[topics.deps] ?? [:]).keys.map { TopicPartition(topic: topics.deps, partition: $0) }
        var checked: [Int32: Int64] = [:]
        do {
            for position in try await consumer.committed(partitions) where position.offset >= 0 {
                checked[position.partition] = position.offset
            }
        } catch {
            logger.warning("cannot read how far registrations were checked; checking none again", metadata: ["error": "\(error)"])
        }
        for (partition, marker) in ends[topics.deps] ?? [:] { checked[partition] = min(checked[partition] ?? .max, marker + 1) }
        lock.withLock {
            checkedFrom = checked
            pendingEnds = ends.filter { !$0.value.isEmpty }
            isReady = pendingEnds.isEmpty
        }
    }

    func awaitReady() async {
        await withCheckedContinuation { continuation in
            let resumeNow = lock.withLock { () -> Bool in
                if isReady || waitingCancelled { return true }
                readyContinuations.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Releases `awaitReady` callers without the state being ready (shutting down).
    func cancelWaiters() {
        let waiting = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            waitingCancelled = true
            defer { readyContinuations = [] }
            return readyContinuations
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Reads until the consumer is shut down.
    func run() async {
        for await event in consumer.events {
            guard case .messages(let batch) = event else { continue }
            var deps = DepsBatch()
            var live: [Registration] = []
            let wasReady = ready
            var rebuilt = false
            for message in batch {
                if message.topic == topics.nodes {
                    if let bytes = message.valueBytes, let report = try? NodeReport.decode(bytes) { nodes.merge(report) }
                } else if message.topic == topics.ledger {
                    if message.header(Self.writerHeader) != writer, let bytes = message.valueBytes,
                       let record = try? LedgerRecord.decode(bytes) {
                        ledger.merge(record)
                    }
                } else if let registration = read(message, into: &deps) {
                    if wasReady {
                        live.append(registration)
                    } else if message.offset >= lock.withLock({ checkedFrom[message.partition] ?? .max }) {
                        unchecked.append(registration)
                    }
                }
                if message.topic == topics.deps { checkedThrough[message.partition] = message.offset + 1 }
                if reached(message) { rebuilt = true }
            }
            deps.apply(to: index)
            if deps.registrations > 0 { onIndexed?(deps.registrations) }
            // Ready only once the batch that reached the last marker is in the index.
            if rebuilt { markReady() }
            await check(live)
            await keepLately(live)
            if !wasReady && ready {
                logger.info("checking registrations no bus had checked", metadata: ["count": "\(unchecked.count)"])
                await check(unchecked)
                unchecked = []
            }
            if ready { await commitChecked() }
            metrics.ledgerEntries.set(Double(ledger.count))
            if ContinuousClock.now - indexGaugeAt >= .seconds(1) || ready != wasReady {
                indexGaugeAt = .now
                metrics.indexedKeys.set(Double(index.statistics.registeredKeys))
            }
        }
    }

    /// Checks again, after the next batch, the registrations read since `readSince`: they were
    /// checked without what a bus instance that has since gone silent had invalidated (its
    /// partitions' taker has floored the memory by then, so their key dependencies now count
    /// as stale). Nodes report on `cascade.nodes` every second, so a batch always comes.
    func recheck(readSince: Int64) {
        lock.withLock { recheckSince = min(recheckSince ?? readSince, readSince) }
    }

    /// Remembers the live registrations of this batch, and runs a recheck that was asked for.
    private func keepLately(_ live: [Registration]) async {
        let now = Timestamps.nowMillis()
        for registration in live { lately.append((now, registration)) }
        while latelyStart < lately.count,
              lately[latelyStart].readAtMillis < now - Self.latelyMillis || lately.count - latelyStart > Self.latelyLimit {
            latelyStart += 1
        }
        if latelyStart > 4096 && latelyStart * 2 > lately.count {
            lately.removeFirst(latelyStart)
            latelyStart = 0
        }
        guard let since = lock.withLock({ () -> Int64? in defer { recheckSince = nil }; return recheckSince }) else { return }
        let again = lately[latelyStart...].filter { $0.readAtMillis >= since }.map(\.registration)
        logger.info("checking again the registrations read since a bus instance went silent", metadata: ["count": "\(again.count)"])
        await check(again)
    }

    /// Race-checks registrations already in the index, as one wave (each key invalidated at
    /// most once, the messages sent in chunks as they are planned); returns once their
    /// invalidations are delivered.
    private func check(_ registrations: [Registration]) async {
        guard !registrations.isEmpty else { return }
        let counts = await raceCheck.check(registrations, send: send)
        if counts.stale > 0 { metrics.racesInvalidated.increment(by: Int64(counts.stale)) }
    }

    /// Commits how far registrations are checked, at most twice a second.
    private func commitChecked() async {
        guard !checkedThrough.isEmpty, ContinuousClock.now - committedAt >= .milliseconds(500) else { return }
        committedAt = .now
        let positions = checkedThrough.map { TopicPartition(topic: topics.deps, partition: $0.key, offset: $0.value) }
        do {
            try await consumer.commit(positions)
        } catch {
            logger.warning("cannot commit how far registrations are checked", metadata: ["error": "\(error)"])
        }
    }

    /// Turns a message of `cascade.deps` into an index change; returns the registration, if
    /// it is one, for the race check.
    private func read(_ message: KafkaMessage, into deps: inout DepsBatch) -> Registration? {
        switch deps.read(message) {
        case .registration(let registration):
            metrics.registrations.increment()
            return registration
        case .unreadable:
            logger.warning("skipping unreadable registration", metadata: ["key": "\(message.keyString ?? "")", "offset": "\(message.offset)"])
            return nil
        case .tombstone, .ignored:
            return nil
        }
    }

    /// Crosses off the marker `message` reaches; true when it was the last one.
    private func reached(_ message: KafkaMessage) -> Bool {
        lock.withLock {
            guard !isReady, let end = pendingEnds[message.topic]?[message.partition], message.offset >= end else { return false }
            pendingEnds[message.topic]?[message.partition] = nil
            if pendingEnds[message.topic]?.isEmpty == true { pendingEnds[message.topic] = nil }
            return pendingEnds.isEmpty
        }
    }

    private func markReady() {
        let continuations = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            isReady = true
            defer { readyContinuations = [] }
            return readyContinuations
        }
        for continuation in continuations { continuation.resume() }
    }

    func shutdown() async {
        await consumer.shutdown()
    }
}
