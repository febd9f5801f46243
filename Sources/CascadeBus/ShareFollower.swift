import CascadeGraph
import CascadeKafka
import CascadeWire
import Foundation
import Logging
import NIOConcurrencyHelpers

/// Partitioned state (`--partitioned-state`): the state of the partitions this instance holds,
/// and only theirs. Gaining partition p (ownership gave it `cascade.events` p), it reads p of
/// - `cascade.edges` into the share of the index (`IndexShare.apply`): the edges whose
///   dependency lies in p;
/// - `cascade.ledger` into the ledger: the entities whose events arrive on p;
/// - `cascade.deps` into the forward side (`IndexShare.route`): the registrations of the keys of
///   p, turned into edge records for the partitions their dependencies lie in. Up to where the
///   previous holder got (committed under `<group>.edges-routed`) they only rebuild what it
///   knew; after that they are produced.
///
/// Once all three are read up to where they ended when it gained p, p is rebuilt (`hold`
/// returns) and its events and hops may be consumed. Then it keeps following them: its owner
/// race-checks the records landing here (`EdgeLandingCheck`). Losing p drops all of it.
///
/// The race check needs what was invalidated lately, which an owner new to p did not see: once
/// p is rebuilt (or a standby of it promoted), what every instance invalidated since a race
/// window before the gain is read back from the invalidation topics (`InvalidationTail`), and
/// only then are records judged: those no owner is known to have judged (from where the owners
/// committed their judgments, under `<group>.edges-routed` too), and the ones after as they come.
///
/// A partition is held either as its owner's or as a standby's (the instance that would take it
/// over first keeps it warm, so a takeover waits for no rebuild). A standby routes registrations
/// to keep the forward side current but produces nothing, and judges nothing; promoted, it
/// reads the partition's registrations again from where its owner committed them, producing.
final class ShareFollower: Sendable {
    let share: IndexShare
    private let ledger: Ledger
    private let consumer: KafkaConsumer
    private let producer: KafkaProducerLanes
    /// Edge records go on a producer of their own that lingers: each message set is one a
    /// partition's next holder reads back, and the embedded broker hands out one set per
    /// partition per fetch, so a set per record made a rebuild under load take seconds.
    private let edgeProducer: KafkaProducer
    private let topics: Topics
    private let landing: EdgeLandingCheck
    private let writer: [UInt8]
    private let metrics: BusMetrics
    private let logger: Logger
    private let held: NIOLockedValueBox<Holdings>
    /// Reads back what the bus instances invalidated lately; nil in tests without one.
    private let tail: TailReads?
    /// From the read loop to the sender.
    private let outgoing = OutgoingQueue()
    /// Held from working out records to queuing them, by the reader and the grace sweeper alike:
    /// two records of one key reach the edges topic in the order the router made them.
    private let queuing = NIOLock()

    init(
        configuration: BusConfiguration, share: IndexShare, ledger: Ledger, landing: EdgeLandingCheck, producer: KafkaProducerLanes,
        writer: String, metrics: BusMetrics, logger: Logger, tail: TailReads?
    ) throws(KafkaError) {
        self.tail = tail
        self.share = share
        self.ledger = ledger
        self.producer = producer
        self.topics = configuration.topics
        held = NIOLockedValueBox(Holdings(depsTopic: configuration.topics.deps, edgesTopic: configuration.topics.edges))
        self.landing = landing
        self.writer = Array(writer.utf8)
        self.metrics = metrics
        self.logger = logger
        var lingering = configuration.kafka
        if lingering.properties["linger.ms"] == nil { lingering.properties["linger.ms"] = String(Self.edgeLingerMs) }
        // Never given up on: an edge record lost is a dependency never invalidated.
        if lingering.properties["message.timeout.ms"] == nil { lingering.properties["message.timeout.ms"] = "0" }
        edgeProducer = try KafkaProducer(configuration: lingering, logger: logger)
        consumer = try KafkaConsumer(
            configuration: configuration.kafka, subscription: .manual(commitGroup: configuration.groupID + ".edges-routed"), logger: logger,
            maxBatch: configuration.consumerBatch)
    }

    /// Against the race window (2 s by default) these milliseconds are nothing.
    static let edgeLingerMs = 20

    private func stateTopics(_ partition: Int32) -> [TopicPartition] {
        [topics.deps, topics.edges, topics.ledger].map { TopicPartition(topic: $0, partition: partition) }
    }

    /// Waits until the edges and hops topics exist (asking for them creates them where the
    /// cluster creates topics on first use): the producer fails a message for a partition of
    /// a topic it does not know yet, rather than waiting for it.
    func awaitTopics() async {
        var attempt = 0
        while held.withLockedValue({ !$0.isStopped }) {
            var missing: [String] = []
            for topic in [topics.edges, topics.hops, topics.deps, topics.ledger] where await consumer.partitions(of: topic) == nil {
                missing.append(topic)
            }
            guard !missing.isEmpty else { return }
            attempt += 1
            if attempt % 10 == 1 { logger.warning("waiting for the state topics to exist", metadata: ["missing": "\(missing)"]) }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Holds `partition`, as its owner or as a standby, reading its state if it was not held
    /// yet; returns true once it is rebuilt, false when it was lost (or the follower stopped)
    /// first. Promotes a standby to owner.
    func hold(_ partition: Int32, owned: Bool) async -> Bool {
        switch held.withLockedValue({ $0.holding(partition, owned: owned) }) {
        case .new(let generation):
            return await rebuild(partition, generation: generation)
        case .held(let generation, let promoted):
            let promotedAtMillis = Timestamps.nowMillis()
            if promoted { await readRegistrationsAgain(partition, generation: generation) }
            let rebuilt = await withCheckedContinuation { continuation in
                if let now = held.withLockedValue({ $0.wait(partition, generation: generation, continuation, onRebuilt: share.hold) }) { continuation.resume(returning: now) }
            }
            if promoted && rebuilt {
                // Rebuilt as a standby: the share did not count it as held (its keys were handed
                // on). Under the lock a demotion takes: one since must not be undone here.
                held.withLockedValue { if $0.owns(partition, generation: generation) { share.hold(partition) } }
                startJudgingSoon(partition, generation: generation, gainedAtMillis: promotedAtMillis)
            }
            return rebuilt
        }
    }

    /// Judging waits for the read back, events and hops do not: their closures need the index,
    /// not the memory (what they invalidate meanwhile is remembered for the judging). Awaited,
    /// the read back (up to its 3 s timeout) delayed every takeover.
    private func startJudgingSoon(_ partition: Int32, generation: Int, gainedAtMillis: Int64) {
        Task { await startJudging(partition, generation: generation, gainedAtMillis: gainedAtMillis) }
    }

    /// An owner starts judging the records landing in `partition`: it reads back what was
    /// invalidated since a race window before the gain, then judges the records no owner is
    /// known to have judged, and from then on every record as it lands.
    private func startJudging(_ partition: Int32, generation: Int, gainedAtMillis: Int64) async {
        guard held.withLockedValue({ $0.awaitsJudging(partition, generation: generation) }) else { return }
        let since = gainedAtMillis - landing.raceCheck.windowMillis - landing.longestApplyDelayMillis() - 1000
        // A record that may have been computed before what was read back is judged stale where
        // it depends on a key: from before, this memory holds only its own invalidations of the
        // partition's keys (a dead owner's last ones are missing). Reading back further would
        // risk the read's timeout, which makes the whole memory claim nothing.
        var covered = since
        if let tail {
            do {
                covered = try await tail.read(sinceMillis: since, gainedAtMillis: gainedAtMillis).coveredSinceMillis
            } catch {
                covered = Timestamps.nowMillis()
                logger.warning("claiming nothing from before a partition was gained", metadata: ["partition": "\(partition)", "error": "\(error)"])
            }
        }
        let judged = await committed(TopicPartition(topic: topics.edges, partition: partition))
        guard let pending = held.withLockedValue({ $0.startJudging(partition, generation: generation, from: judged) }) else { return }
        if !pending.isEmpty {
            logger.info("judging the records no owner judged", metadata: ["partition": "\(partition)", "records": "\(pending.count)"])
        }
        await send(check(pending, coveredSinceMillis: covered))
        held.withLockedValue { $0.judgedKept(partition, generation: generation) }
    }

    /// Where the group committed `partition`'s position; nil when it never did (or cannot tell).
    private func committed(_ partition: TopicPartition) async -> Int64? {
        let offset = (try? await consumer.committed([partition], timeout: .seconds(5)))?.first?.offset ?? -1
        return offset >= 0 ? offset : nil
    }

    /// Its owner now elsewhere, a partition held stays warm: its registrations are routed, not
    /// produced, its records kept, not judged, and closures hand its keys on to the owner.
    func demote(_ partition: Int32) {
        held.withLockedValue { state in
            state.demote(partition)
            share.standBy(partition)
        }
    }

    /// The partitions held, owned or standing by.
    var holding: Set<Int32> { held.withLockedValue { Set($0.byPartition.keys) } }

    /// The partitions held and rebuilt: warm, ready to be resolved at once.
    var rebuilt: Set<Int32> { held.withLockedValue { Set($0.byPartition.filter(\.value.isRebuilt).keys) } }

    /// A standby promoted to owner: its registrations from where the owner committed how far
    /// it routed them are routed again, producing (the owner may have gone before producing them).
    private func readRegistrationsAgain(_ partition: Int32, generation: Int) async {
        let deps = TopicPartition(topic: topics.deps, partition: partition)
        let committed = await committed(deps) ?? 0
        let readPast = held.withLockedValue { $0.produceRoutes(partition, generation: generation, from: committed) }
        guard readPast else { return }
        do {
            try await consumer.seek([TopicPartition(topic: topics.deps, partition: partition, offset: committed)])
        } catch {
            logger.error("cannot read a partition's registrations again", metadata: ["partition": "\(partition)", "error": "\(error)"])
        }
    }

    private func rebuild(_ partition: Int32, generation: Int) async -> Bool {
        let started = ContinuousClock.now
        let gainedAtMillis = Timestamps.nowMillis()
        var ends: [PartitionWatermarks]?
        while ends == nil {
            guard held.withLockedValue({ $0.generation(of: partition) == generation }) else { return false }
            do {
                // By topic first: that asks for their metadata, which creates them on a cluster
                // that creates topics on first use (the embedded broker).
                let known = try await consumer.watermarks(of: [topics.deps, topics.edges, topics.ledger], timeout: .seconds(2))
                ends = known.filter { $0.partition == partition }
            } catch {
                logger.warning("cannot learn where a state partition ends; trying again", metadata: ["partition": "\(partition)", "error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        let routed = await committed(TopicPartition(topic: topics.deps, partition: partition))
        let judged = await committed(TopicPartition(topic: topics.edges, partition: partition))
        let proceed = held.withLockedValue { state in
            state.rebuilding(partition, generation: generation, ends: ends ?? [], committed: routed ?? 0, judged: judged)
        }
        guard proceed else { return false }
        do {
            try consumer.add(stateTopics(partition).map { TopicPartition(topic: $0.topic, partition: partition, offset: 0) })
        } catch {
            logger.error("cannot read a state partition", metadata: ["partition": "\(partition)", "error": "\(error)"])
            return false
        }
        let rebuilt = await withCheckedContinuation { continuation in
            if let now = held.withLockedValue({ $0.wait(partition, generation: generation, continuation, onRebuilt: share.hold) }) { continuation.resume(returning: now) }
        }
        if rebuilt {
            startJudgingSoon(partition, generation: generation, gainedAtMillis: gainedAtMillis)
            metrics.partitionRebuilds.increment()
            logger.info("state partition rebuilt", metadata: [
                "partition": "\(partition)", "elapsed": "\(ContinuousClock.now - started)",
                "registered keys": "\(share.index.registeredKeys)",
            ])
        }
        return rebuilt
    }

    /// Stops holding `partition`: its state is dropped.
    func lose(_ partition: Int32) {
        guard let ended = held.withLockedValue({ $0.end(partition) }) else { return }
        for waiter in ended.waiters { waiter.resume(returning: false) }
        if ended.wasReading {
            do {
                try consumer.remove(stateTopics(partition))
            } catch {
                logger.warning("cannot stop reading a state partition", metadata: ["partition": "\(partition)", "error": "\(error)"])
            }
        }
        share.release(partition)
        ledger.removeAll { share.partitioner.partition(of: $0) == partition }
    }

    /// Reads until the consumer is shut down. What each batch causes goes to the sender
    /// (`sendLoop`), so reading goes on while the edge producer lingers: awaiting each batch's
    /// delivery before the next one made every poll wait for that linger, and a registration
    /// took two such waits, behind the batches queued before it, to land (300-800 ms in chaos).
    func run() async {
        outgoing.open()
        let sender = Task { await sendLoop() }
        // Graces end on a timer of their own, not per batch: a quiet partition reads nothing.
        let sweeper = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let holdings = held.withLockedValue { $0.byPartition }
                queuing.withLock {
                    let ended = endGraces(holdings)
                    if !ended.isEmpty { outgoing.enqueue(OutgoingQueue.Sending(messages: ended.map(edgeMessage), finished: [])) }
                }
            }
        }
        var committedAt = ContinuousClock.now
        for await event in consumer.events {
            guard case .messages(let batch) = event else { continue }
            queuing.withLock {
                var sending = read(batch)
                if ContinuousClock.now - committedAt >= .milliseconds(500) {
                    committedAt = .now
                    sending.positions = committable()
                }
                outgoing.enqueue(sending)
            }
        }
        sweeper.cancel()
        await sweeper.value
        outgoing.finish()
        await sender.value
    }

    /// Sends what the batches read caused, in the order they were read, all that waits at
    /// once; then wakes the partitions they finished rebuilding and commits how far
    /// registrations were routed, and records judged, when the last of them was read.
    private func sendLoop() async {
        while let taken = await outgoing.takeAll() {
            await send(taken.flatMap(\.messages))
            for (waiter, rebuilt) in taken.flatMap(\.finished) { waiter.resume(returning: rebuilt) }
            if let positions = taken.last(where: { $0.positions != nil })?.positions { await commit(positions) }
        }
    }

    private func read(_ batch: [KafkaMessage]) -> OutgoingQueue.Sending {
        let holdings = held.withLockedValue { $0.byPartition }
        var out: [OutboundMessage] = []
        var landed: [EdgeRecord] = []
        var unjudged: [Int32: [Holdings.Landed]] = [:]
        // Routed as a standby's: produced after all if the partition was promoted meanwhile.
        var unproduced: [(partition: Int32, offset: Int64, records: [EdgeRecord])] = []
        var positions: [(topic: String, partition: Int32, next: Int64)] = []
        for message in batch {
            guard let holding = holdings[message.partition], holding.isReading else { continue }
            positions.append((message.topic, message.partition, message.offset + 1))
            switch message.topic {
            case topics.edges:
                guard let record = edgeRecord(message) else { continue }
                let caused = share.apply(record, liveAtMillis: holding.isRebuilt ? Timestamps.nowMillis() : nil)
                if logger.logLevel <= .trace {
                    logger.trace("edge record applied", metadata: [
                        "key": "\(record.key)", "partition": "\(message.partition)", "offset": "\(message.offset)",
                        "set_at_ms": "\(record.setAtMillis ?? 0)", "owned": "\(holding.owned)", "judging": "\(holding.isJudging)",
                        "rebuilt": "\(holding.isRebuilt)", "keep_from": "\(holding.keepFrom)",
                    ])
                }
                if holding.isJudging {
                    landed.append(record)
                } else if message.offset >= holding.keepFrom, record.setAtMillis != nil {
                    // Judged by this holder once it owns the partition and its memory is read back.
                    unjudged[message.partition, default: []].append(.init(offset: message.offset, record: record))
                }
                // While rebuilding, what the record caused was done by whoever read it first; a
                // standby's router may be behind the owner's (a key registered again there).
                guard holding.isRebuilt, holding.owned else { continue }
                out += caused.map(edgeMessage)
            case topics.ledger:
                if message.header(StateFollower.writerHeader) != writer, let bytes = message.valueBytes,
                   let record = try? LedgerRecord.decode(bytes) {
                    ledger.merge(record)
                }
            case topics.deps:
                let records = route(message)
                if message.offset >= holding.routedFrom {
                    out += records.map(edgeMessage)
                } else if !records.isEmpty {
                    unproduced.append((message.partition, message.offset, records))
                }
            default:
                continue
            }
        }
        // One lock with the positions: a promotion either saw this batch read (and reads its
        // registrations again) or this sees the promotion (and produces them now).
        let now = Timestamps.nowMillis()
        let (finished, promoted, judgedSince) = held.withLockedValue { state in
            let judgedSince = unjudged.flatMap { state.landed($0.key, $0.value, atMillis: now) }
            let promoted = unproduced.filter { $0.offset >= state.byPartition[$0.partition]?.routedFrom ?? .max }
            return (state.read(positions, onRebuilt: share.hold), promoted, judgedSince)
        }
        out += check(landed + judgedSince)
        out += promoted.flatMap { $0.records.map(edgeMessage) }
        // Positions are committed only once these are delivered (`sendLoop`).
        return OutgoingQueue.Sending(messages: out, finished: finished)
    }

    /// The records of gone keys whose grace is over (`EdgeRouter.endGraces`), once their partition
    /// is rebuilt; produced by its owner alone (a standby forgets them as the owner does).
    private func endGraces(_ holdings: [Int32: Holdings.Holding]) -> [EdgeRecord] {
        let ended = share.endGraces(nowMillis: Timestamps.nowMillis()) { holdings[$0]?.isRebuilt ?? false }
        return ended.flatMap { key, records in
            holdings[share.partitioner.partition(of: key.description)]?.owned == true ? records : []
        }
    }

    /// The landing check of each record; counts the stale ones.
    private func check(_ records: [EdgeRecord], coveredSinceMillis: Int64 = .min) -> [OutboundMessage] {
        let now = Timestamps.nowMillis()
        var stale = 0
        let messages = records.flatMap { record in
            let messages = landing.check(record, nowMillis: now, coveredSinceMillis: coveredSinceMillis)
            if messages.isEmpty {
                logger.trace("edge record judged fresh", metadata: [
                    "key": "\(record.key)", "partition": "\(record.partition)", "set_at_ms": "\(record.setAtMillis ?? 0)",
                    "deps": "\(record.dependencies.map(\.description))",
                ])
            } else {
                stale += 1
                // Rare, and the one trace of a race judged here: what a late invalidation is
                // explained by in a post-mortem (`--log-level debug`).
                logger.debug("edge record judged stale: its key is invalidated", metadata: [
                    "key": "\(record.key)", "partition": "\(record.partition)", "set_at_ms": "\(record.setAtMillis ?? 0)",
                ])
            }
            return messages
        }
        if stale > 0 { metrics.racesInvalidated.increment(by: Int64(stale)) }
        return messages
    }

    private func edgeRecord(_ message: KafkaMessage) -> EdgeRecord? {
        guard let key = message.keyBytes else { return nil }
        do {
            return try EdgeRecord.decode(key: key, value: message.valueBytes, partition: message.partition)
        } catch {
            logger.warning("skipping an unreadable edge record", metadata: ["offset": "\(message.offset)", "error": "\(error)"])
            return nil
        }
    }

    /// A registration or tombstone of `cascade.deps`, as the records it causes.
    private func route(_ message: KafkaMessage) -> [EdgeRecord] {
        switch DepsBatch.read(message) {
        case .registration(let registration):
            metrics.registrations.increment()
            return share.route(
                CacheKeyRef(service: registration.service, key: registration.key), dependencies: registration.parsedDependencies,
                owner: registration.owner, setAtMillis: registration.setAtMillis)
        case .tombstone(let key, let owner):
            let now = Timestamps.nowMillis()
            return share.routeTombstone(key, owner: owner, wentAtMillis: message.timestampMillis ?? now, nowMillis: now)
        case .unreadable:
            logger.warning("skipping unreadable registration", metadata: ["key": "\(message.keyString ?? "")", "offset": "\(message.offset)"])
            return []
        case .spelled, .ignored:
            return []
        }
    }

    private func edgeMessage(_ record: EdgeRecord) -> OutboundMessage {
        OutboundMessage(topic: topics.edges, key: record.kafkaKey, value: record.encodedValue(), partition: record.partition)
    }

    /// Sends and awaits every message: registrations count as routed, and records as checked,
    /// only once what they caused is delivered.
    private func send(_ messages: [OutboundMessage]) async {
        guard !messages.isEmpty else { return }
        let edges = messages.filter { $0.topic == topics.edges }
        let others = messages.filter { $0.topic != topics.edges }
        metrics.edgeRecordsOut.increment(by: Int64(edges.count))
        // The race check's: a stale key handed to its own partition's share.
        let hops = others.count { $0.topic == topics.hops }
        if hops > 0 { metrics.hopsOut.increment(by: Int64(hops)) }
        async let edgesSent: Void = edgeProducer.deliver(edges, logger: logger, failure: "an edge record was not delivered")
        async let othersSent: Void = producer.deliver(others, logger: logger, failure: "a race-check message was not delivered")
        _ = await (edgesSent, othersSent)
    }

    /// How far registrations are routed, and records judged, in the partitions owned.
    private func committable() -> [TopicPartition] {
        held.withLockedValue { $0.committable() }.map { TopicPartition(topic: $0.topic, partition: $0.partition, offset: $0.next) }
    }

    private func commit(_ positions: [TopicPartition]) async {
        guard !positions.isEmpty else { return }
        do {
            try await consumer.commit(positions)
        } catch {
            logger.warning("cannot commit how far registrations are routed and records judged", metadata: ["error": "\(error)"])
        }
    }

    func shutdown() async {
        for waiter in held.withLockedValue({ $0.stop() }) { waiter.resume(returning: false) }
        // After what was read is delivered: the sender commits it last.
        _ = await withCheckedContinuation { delivered in
            outgoing.enqueue(.init(messages: [], finished: [(delivered, true)], positions: committable()))
        }
        await consumer.shutdown()
        await edgeProducer.shutdown(timeout: .seconds(5))
    }
}
