import CascadeGraph
import CascadeKafka
import CascadeWire
import Foundation
import Logging

/// Reads `cascade.deps` into the instance index and `cascade.ledger` into the ledger, from the
/// beginning, then keeps following both. Ready once both are read up to the markers written
/// at start (the end of each partition as it was then).
final class StateFollower: @unchecked Sendable {
    private let consumer: KafkaConsumer
    private let topics: Topics
    private let index: InstanceIndex
    private let ledger: Ledger
    private let raceCheck: RegistrationRaceCheck
    private let send: @Sendable ([OutboundMessage]) async -> Void
    private let metrics: BusMetrics
    private let logger: Logger
    private let lock = NSLock()
    /// Per topic and partition, the marker offset still to be reached.
    private var pendingEnds: [String: [Int32: Int64]] = [:]
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
        configuration: BusConfiguration, index: InstanceIndex, ledger: Ledger, raceCheck: RegistrationRaceCheck,
        metrics: BusMetrics, writer: String, logger: Logger, send: @escaping @Sendable ([OutboundMessage]) async -> Void
    ) throws {
        self.writer = Array(writer.utf8)
        topics = configuration.topics
        consumer = try KafkaConsumer(
            configuration: configuration.kafka, subscription: .allPartitions(topics: [topics.deps, topics.ledger], from: .beginning),
            logger: logger, maxBatch: configuration.consumerBatch)
        self.index = index
        self.ledger = ledger
        self.raceCheck = raceCheck
        self.metrics = metrics
        self.logger = logger
        self.send = send
    }

    var ready: Bool { lock.withLock { isReady } }

    /// Sets the offsets to reach before the state counts as rebuilt.
    func expect(_ ends: [String: [Int32: Int64]]) {
        lock.withLock { pendingEnds = ends.filter { !$0.value.isEmpty }; isReady = pendingEnds.isEmpty }
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
            var registrations: [(key: CacheKeyRef, dependencies: [Dependency])] = []
            var live: [Registration] = []
            let wasReady = ready
            for message in batch {
                if message.topic == topics.ledger {
                    if message.header(Self.writerHeader) != writer, let bytes = message.valueBytes,
                       let record = try? LedgerRecord.decode(bytes) {
                        ledger.merge(record)
                    }
                } else {
                    apply(message, into: &registrations, live: &live, checkRaces: wasReady)
                }
                reached(message)
            }
            if !registrations.isEmpty { index.register(contentsOf: registrations) }
            for registration in live {
                let messages = raceCheck.check(registration)
                if !messages.isEmpty {
                    metrics.racesInvalidated.increment()
                    await send(messages)
                }
            }
            metrics.ledgerEntries.set(Double(ledger.count))
            if ContinuousClock.now - indexGaugeAt >= .seconds(1) || ready != wasReady {
                indexGaugeAt = .now
                metrics.indexedKeys.set(Double(index.statistics.registeredKeys))
            }
        }
    }

    private func apply(
        _ message: KafkaMessage, into batch: inout [(key: CacheKeyRef, dependencies: [Dependency])], live: inout [Registration],
        checkRaces: Bool
    ) {
        guard let keyText = message.keyString, !keyText.hasPrefix(TopicSetup.markerPrefix) else { return }
        guard let bytes = message.valueBytes else {
            // Tombstone: the key is gone. Flush pending registrations first to keep order.
            if !batch.isEmpty { index.register(contentsOf: batch); batch.removeAll() }
            if let slash = keyText.firstIndex(of: "/") {
                index.unregister(CacheKeyRef(service: String(keyText[..<slash]), key: String(keyText[keyText.index(after: slash)...])))
            }
            return
        }
        guard let registration = try? Registration.decode(bytes) else {
            logger.warning("skipping unreadable registration", metadata: ["key": "\(keyText)", "offset": "\(message.offset)"])
            return
        }
        metrics.registrations.increment()
        let dependencies = registration.deps.compactMap { try? Dependency.parse($0, service: registration.service) }
        batch.append((CacheKeyRef(service: registration.service, key: registration.key), dependencies))
        if checkRaces { live.append(registration) }
    }

    private func reached(_ message: KafkaMessage) {
        let continuations = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            guard !isReady, let end = pendingEnds[message.topic]?[message.partition], message.offset >= end else { return [] }
            pendingEnds[message.topic]?[message.partition] = nil
            if pendingEnds[message.topic]?.isEmpty == true { pendingEnds[message.topic] = nil }
            guard pendingEnds.isEmpty else { return [] }
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
