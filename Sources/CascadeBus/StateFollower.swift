import CascadeGraph
import CascadeKafka
import CascadeWire
import Foundation
import Logging
import NIOConcurrencyHelpers

/// Reads `cascade.deps` into the instance index and `cascade.ledger` into the ledger, from the
/// beginning, then keeps following both. Ready once both, and `cascade.nodes`, are read up to
/// where they ended when it started (`CatchUp`): those ends are asked of the brokers once, and
/// each partition is judged by how far this follower has read it, after every batch and after
/// every look at how far the brokers trimmed what is still to read (`watchRebuild`).
///
/// Every registration is race-checked once (`RegistrationRaceCheck`): live ones as they come,
/// and at start those a previous bus read but may not have checked. The positions up to which
/// registrations were checked, and their invalidations delivered, are committed under the
/// group `<bus group>.deps-checked`, so a bus killed between reading a registration and
/// checking it leaves the check to the next one.
///
/// What only the reading loop changes (`Progress`) is a value that `run` owns and lends to
/// the steps it calls: no other task can reach it. What others ask for is under a lock.
final class StateFollower: Sendable {
    private let consumer: KafkaConsumer
    private let topics: Topics
    private let index: InstanceIndex
    private let ledger: Ledger
    private let raceCheck: RegistrationRaceCheck
    private let send: @Sendable ([OutboundMessage]) async -> Void
    private let onIndexed: (@Sendable (Int) -> Void)?
    /// Reads back, before the bus is ready, what the other instances invalidated lately.
    private let tail: InvalidationTail?
    private let metrics: BusMetrics
    private let logger: Logger
    let nodes: NodeDirectory
    private typealias Waiter = CheckedContinuation<Void, Never>
    private let rebuild = NIOLockedValueBox(RebuildState<Waiter>())
    private let startedAt = ContinuousClock.now
    /// Asked by `recheck`, done by `run` after its next batch: the earliest read time to check again.
    private let recheckSince = NIOLockedValueBox<Int64?>(nil)
    /// Long enough for a recheck asked after a takeover's read back (`InvalidationTail`, up to
    /// 3 s) to still find what was read since the silence (`deadAfter` and a beacon before).
    static let latelyMillis: Int64 = 6000
    static let latelyLimit = 200_000

    /// Header naming the bus instance that wrote a ledger record.
    static let writerHeader = "cascade-writer"
    /// This instance's id: its own records are in its ledger already, decoding them again
    /// would cost as much as the event itself.
    private let writer: [UInt8]
    /// The topics read whole: with partitioned state, only the nodes' reports (`ShareFollower`
    /// reads the rest, partition by partition).
    private let followed: [String]

    init(
        configuration: BusConfiguration, index: InstanceIndex, ledger: Ledger, raceCheck: RegistrationRaceCheck, nodes: NodeDirectory,
        metrics: BusMetrics, writer: String, logger: Logger, tail: InvalidationTail? = nil,
        send: @escaping @Sendable ([OutboundMessage]) async -> Void
    ) throws {
        self.tail = tail
        self.writer = Array(writer.utf8)
        topics = configuration.topics
        followed = configuration.partitionedState ? [topics.nodes] : [topics.deps, topics.ledger, topics.nodes]
        consumer = try KafkaConsumer(
            configuration: configuration.kafka,
            subscription: .allPartitions(topics: followed, from: .beginning),
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

    var ready: Bool { rebuild.withLockedValue { $0.isReady } }

    /// How far the rebuild is, in a line (`/readyz`).
    var readiness: String { rebuild.withLockedValue { $0.summary } }

    func awaitReady() async {
        await withCheckedContinuation { continuation in
            if rebuild.withLockedValue({ $0.waitForReady(continuation) }) == .resumeNow { continuation.resume() }
        }
    }

    /// Releases `awaitReady` callers without the state being ready, and gives up asking where
    /// the state topics end (shutting down).
    func cancelWaiters() {
        for waiter in rebuild.withLockedValue({ $0.stop() }) { waiter.resume() }
    }

    /// Takes the ends of the state topics, then reads until the consumer is shut down.
    func run() async {
        guard let ends = await findEnds() else { return }
        var progress = Progress(checkedFrom: await learnChecked(ends))
        let catchUp = CatchUp(ends)
        rebuild.withLockedValue { $0.endsFound(catchUp) }
        metrics.rebuildBehind.set(Double(catchUp.behind))
        logger.info("rebuilding the index and the ledger", metadata: ["to read": "\(catchUp.summary)"])
        let watcher = Task { await self.watchRebuild() }
        defer { watcher.cancel() }
        if rebuild.withLockedValue({ $0.isCaughtUp }) { await becomeReady(&progress) }
        for await event in consumer.events {
            switch event {
            case .messages(let batch):
                await read(batch, &progress)
            case .error(let error):
                report(error, &progress)
            case .woken, .assigned, .revoked:
                break
            }
            if !ready && rebuild.withLockedValue({ $0.isCaughtUp }) { await becomeReady(&progress) }
        }
    }

    /// Asks where every partition of the state topics starts and ends, until the brokers
    /// answer (each attempt bounded, each failure logged); nil once stopping.
    private func findEnds() async -> [PartitionWatermarks]? {
        var attempt = 0
        while !rebuild.withLockedValue({ $0.stopping }) {
            do {
                return try await consumer.watermarks(of: followed, timeout: Self.requestTimeout)
            } catch {
                attempt += 1
                rebuild.withLockedValue { $0.endsUnknown("\(error)") }
                logger.warning("cannot learn where the state topics end; trying again", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        return nil
    }

    /// Bounds each request to the brokers while rebuilding.
    static let requestTimeout = Duration.seconds(2)

    /// Learns how far registrations were checked (nothing committed: a first start, all
    /// counts as checked). Whatever was written since the ends were taken is checked anyway.
    private func learnChecked(_ ends: [PartitionWatermarks]) async -> [Int32: Int64] {
        let deps = ends.filter { $0.topic == topics.deps }
        var checked: [Int32: Int64] = [:]
        do {
            let partitions = deps.map { TopicPartition(topic: topics.deps, partition: $0.partition) }
            for position in try await consumer.committed(partitions, timeout: .seconds(5)) where position.offset >= 0 {
                checked[position.partition] = position.offset
            }
        } catch {
            logger.warning("cannot read how far registrations were checked; checking none again", metadata: ["error": "\(error)"])
        }
        for end in deps { checked[end.partition] = min(checked[end.partition] ?? .max, end.high) }
        return checked
    }

    /// While rebuilding: asks every half second how far the brokers trimmed the partitions
    /// still behind (a partition trimmed past its end has nothing left to read), wakes the
    /// reader to judge again, and logs the progress every 5 s.
    private func watchRebuild() async {
        let clock = ContinuousClock()
        var loggedAt = clock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            guard let pending = rebuild.withLockedValue({ $0.pending }) else { return }
            if !pending.isEmpty {
                do {
                    let marks = try await consumer.watermarks(
                        pending.map { TopicPartition(topic: $0.topic, partition: $0.partition) }, timeout: Self.requestTimeout)
                    rebuild.withLockedValue { state in state.track { for mark in marks { $0.probed(mark) } } }
                } catch {
                    logger.debug("cannot learn where the partitions still behind start", metadata: ["error": "\(error)"])
                }
            }
            consumer.wake()
            if clock.now - loggedAt >= .seconds(5), let catchUp = rebuild.withLockedValue({ $0.catchUp }) {
                loggedAt = clock.now
                metrics.rebuildBehind.set(Double(catchUp.behind))
                var metadata: Logger.Metadata = ["elapsed": "\(Self.seconds(clock.now - startedAt)) s"]
                for topic in catchUp.progress {
                    metadata[topic.topic] = .string(
                        "\(topic.read)/\(topic.total) read, \(topic.pendingPartitions) of \(topic.partitions) partitions to go, "
                            + "\(topic.skipped) offsets skipped in \(topic.jumps) jumps")
                }
                logger.info("rebuilding the index and the ledger", metadata: metadata)
            }
        }
    }

    /// The state is read up to the ends taken at start and applied: ready. Then checks the
    /// registrations read meanwhile that no bus had checked.
    private func becomeReady(_ progress: inout Progress) async {
        await readBackMemory()
        // The catch-up is read before it is replaced by `.ready`.
        let (catchUp, waiters) = rebuild.withLockedValue { state in (state.catchUp, state.markReady()) }
        for waiter in waiters { waiter.resume() }
        metrics.rebuildBehind.set(Double(0))
        var metadata: Logger.Metadata = [
            "seconds since start": "\(Self.seconds(.now - startedAt))", "ledger": "\(ledger.count)", "keys": "\(index.statistics.registeredKeys)",
        ]
        for topic in catchUp?.progress ?? [] where topic.jumps > 0 {
            metadata[topic.topic] = "\(topic.skipped) offsets skipped (trimmed before read) in \(topic.jumps) jumps"
        }
        logger.info("index and ledger rebuilt", metadata: metadata)
        let toCheck = await uncheckedByOthers(progress.unchecked)
        logger.info("checking registrations no bus had checked", metadata: [
            "count": "\(toCheck.count)", "checked by other instances meanwhile": "\(progress.unchecked.count - toCheck.count)",
        ])
        await check(toCheck)
        progress.unchecked = []
        await commitChecked(&progress)
        metrics.indexedKeys.set(Double(index.registeredKeys))
    }

    /// Of the registrations read during the rebuild, those no other instance has checked since:
    /// live instances check every registration as it comes and commit how far they got, so
    /// with peers running only the last moments are left (checked again here, they would be
    /// judged by a memory that saw none of the cascades run meanwhile, and a restart would
    /// invalidate thousands of current values). Alone, or when the brokers do not answer,
    /// all of them.
    private func uncheckedByOthers(_ unchecked: [Progress.Unchecked]) async -> [Registration] {
        guard !unchecked.isEmpty else { return [] }
        let partitions = Set(unchecked.map(\.partition)).map { TopicPartition(topic: topics.deps, partition: $0) }
        var committed: [Int32: Int64] = [:]
        if let positions = try? await consumer.committed(partitions, timeout: .seconds(2)) {
            for position in positions where position.offset >= 0 { committed[position.partition] = position.offset }
        }
        return unchecked.filter { $0.offset >= committed[$0.partition] ?? 0 }.map(\.registration)
    }

    /// Applies a batch: node reports, ledger records, registrations (race-checked once the
    /// state is ready; kept for later when read during the rebuild at or after `checkedFrom`).
    private func read(_ batch: [KafkaMessage], _ progress: inout Progress) async {
        var deps = DepsBatch()
        var live: [Registration] = []
        let wasReady = ready
        // Runs of one partition's messages, for the catch-up: one update per run, not per message.
        var runs: [(topic: String, partition: Int32, first: Int64, last: Int64)] = []
        for message in batch {
            if message.topic == topics.nodes {
                if let bytes = message.valueBytes, let report = try? NodeReport.decode(bytes) { nodes.merge(report) }
            } else if message.topic == topics.ledger {
                if message.header(Self.writerHeader) != writer, let bytes = message.valueBytes,
                   let record = try? LedgerRecord.decode(bytes) {
                    ledger.merge(record)
                }
            } else {
                // Read during the rebuild before `checkedFrom`: only the index needs it.
                let checked = !wasReady && message.offset < progress.checkedFrom[message.partition] ?? .max
                if let registration = read(message, into: &deps, keep: !checked) {
                    if wasReady {
                        live.append(registration)
                    } else {
                        progress.unchecked.append((message.partition, message.offset, registration))
                    }
                }
            }
            if message.topic == topics.deps { progress.checkedThrough[message.partition] = message.offset + 1 }
            if !wasReady {
                if let last = runs.last, last.partition == message.partition, last.topic == message.topic {
                    runs[runs.count - 1].last = message.offset
                } else {
                    runs.append((message.topic, message.partition, message.offset, message.offset))
                }
            }
        }
        let now = Timestamps.nowMillis()
        deps.apply(to: index, nowMillis: now)
        // Rebuilding, the keys that registered on a gone key later in the topic are not read yet.
        if wasReady { index.endGraces(nowMillis: now) }
        if deps.registrations > 0 { onIndexed?(deps.registrations) }
        // Counted as read only once in the index: readiness follows right after this batch.
        if !runs.isEmpty {
            rebuild.withLockedValue { state in
                state.track { catchUp in
                    for run in runs { catchUp.read(topic: run.topic, partition: run.partition, first: run.first, last: run.last) }
                }
            }
        }
        await check(live)
        await keepLately(live, &progress)
        if wasReady { await commitChecked(&progress) }
        // Both are counters kept by the index and the ledger (no walk): right after every batch.
        metrics.ledgerEntries.set(Double(ledger.count))
        metrics.indexedKeys.set(Double(index.registeredKeys))
    }

    /// Logs a consumer error, at most one a second (with how many were not logged).
    private func report(_ error: KafkaError, _ progress: inout Progress) {
        metrics.stateConsumerErrors.increment()
        guard let unlogged = progress.errorToLog(now: .now) else { return }
        logger.warning("state consumer error", metadata: ["error": "\(error)", "not logged since the last": "\(unlogged)"])
    }

    private static func seconds(_ duration: Duration) -> String {
        String(format: "%.1f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    /// Before anything is resolved here: what was invalidated from a race window before this
    /// process started, read back from the invalidation topics into the race check's memory,
    /// which then vouches for that time on. Without it, every `service/key` dependency of a
    /// value stored in the instance's first race window counted as stale (a restart's storm).
    private func readBackMemory() async {
        guard let tail else { return }
        let memory = raceCheck.recent
        let started = memory.coverageStartMillis
        let since = started - raceCheck.windowMillis - nodes.longestApplyDelayMillis() - 1000
        guard memory.coverFrom(since) else { return }
        do {
            // Not ready yet: a slow read delays readiness, it does not lose anything.
            let read = try await tail.read(sinceMillis: since, into: memory, timeout: .seconds(10))
            // Where the topics could not be read back that far, vouch from what was (or, as
            // without a read back, from this start: nothing of this process is missing).
            if read.coveredSinceMillis > since { memory.forgetBefore(min(started, read.coveredSinceMillis)) }
            logger.info("read back what the bus instances invalidated before this one started", metadata: [
                "messages": "\(read.messages)", "keys": "\(read.keys)", "covered_ms_before_start": "\(started - read.coveredSinceMillis)",
            ])
        } catch {
            memory.forgetBefore(started)
            logger.warning("vouching for nothing before this instance started", metadata: ["error": "\(error)"])
        }
    }

    /// Race-checks registrations already in the index, as one wave (each key invalidated at
    /// most once, the messages sent in chunks as they are planned); returns once their
    /// invalidations are delivered.
    private func check(_ registrations: [Registration]) async {
        guard !registrations.isEmpty else { return }
        let counts = await raceCheck.check(registrations, send: send)
        if counts.stale > 0 { metrics.racesInvalidated.increment(by: Int64(counts.stale)) }
    }

    /// Checks again, after the next batch, the registrations read since `readSince`: they were
    /// checked without what a bus instance that has since gone silent had invalidated (its
    /// partitions' taker has floored the memory by then, so their key dependencies now count
    /// as stale). Nodes report on `cascade.nodes` every second, so a batch always comes.
    func recheck(readSince: Int64) {
        recheckSince.withLockedValue { $0 = min($0 ?? readSince, readSince) }
    }

    /// Remembers the live registrations of this batch, and runs a recheck that was asked for.
    private func keepLately(_ live: [Registration], _ progress: inout Progress) async {
        progress.keepLately(live, nowMillis: Timestamps.nowMillis())
        guard let since = recheckSince.withLockedValue({ value -> Int64? in defer { value = nil }; return value }) else { return }
        let again = progress.registrations(readSince: since)
        logger.info("checking again the registrations read since a bus instance went silent", metadata: ["count": "\(again.count)"])
        await check(again)
    }

    /// Commits how far registrations are checked, at most twice a second.
    private func commitChecked(_ progress: inout Progress) async {
        guard !progress.checkedThrough.isEmpty, ContinuousClock.now - progress.committedAt >= .milliseconds(500) else { return }
        progress.committedAt = .now
        let positions = progress.checkedThrough.map { TopicPartition(topic: topics.deps, partition: $0.key, offset: $0.value) }
        do {
            try await consumer.commit(positions)
        } catch {
            logger.warning("cannot commit how far registrations are checked", metadata: ["error": "\(error)"])
        }
    }

    /// Reads a message of `cascade.deps` for the index; returns the registration, if it is one
    /// and `keep` says so, for the race check.
    private func read(_ message: KafkaMessage, into deps: inout DepsBatch, keep: Bool) -> Registration? {
        switch deps.read(message, keep: keep) {
        case .registration(let registration):
            metrics.registrations.increment()
            return registration
        case .spelled:
            metrics.registrations.increment()
            return nil
        case .unreadable:
            logger.warning("skipping unreadable registration", metadata: ["key": "\(message.keyString ?? "")", "offset": "\(message.offset)"])
            return nil
        case .tombstone, .ignored:
            return nil
        }
    }

    func shutdown() async {
        await consumer.shutdown()
    }

    /// What only the reading loop changes: `run` owns it and lends it to each step.
    private struct Progress {
        typealias Unchecked = (partition: Int32, offset: Int64, registration: Registration)
        /// Per partition of `cascade.deps`, the first offset no bus is known to have checked: the
        /// committed position, or the end at start (published since it started).
        let checkedFrom: [Int32: Int64]
        /// Read during the replay at or after `checkedFrom`: checked once the state is rebuilt,
        /// unless another instance has checked them meanwhile.
        var unchecked: [Unchecked] = []
        /// Per partition of `cascade.deps`, the next offset once everything read is checked.
        var checkedThrough: [Int32: Int64] = [:]
        var committedAt = ContinuousClock.now
        /// Consumer errors: logged at most once a second, the others counted.
        var errorLoggedAt: ContinuousClock.Instant?
        var errorsUnlogged = 0
        /// Live registrations of the last `latelyMillis`, with when each was read: what
        /// `recheck(readSince:)` checks again.
        var lately = LatelyKept<Registration>(horizonMillis: StateFollower.latelyMillis, limit: StateFollower.latelyLimit)

        init(checkedFrom: [Int32: Int64]) {
            self.checkedFrom = checkedFrom
        }

        /// How many errors went unlogged before this one, if this one is to be logged.
        mutating func errorToLog(now: ContinuousClock.Instant) -> Int? {
            if let at = errorLoggedAt, now - at < .seconds(1) {
                errorsUnlogged += 1
                return nil
            }
            errorLoggedAt = now
            defer { errorsUnlogged = 0 }
            return errorsUnlogged
        }

        mutating func keepLately(_ live: [Registration], nowMillis: Int64) {
            lately.append(contentsOf: live, atMillis: nowMillis)
        }

        func registrations(readSince since: Int64) -> [Registration] {
            lately.elements(readSince: since)
        }
    }
}
