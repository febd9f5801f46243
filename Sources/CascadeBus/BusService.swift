import CascadeGraph
import CascadeKafka
import CascadeWire
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The bus as a Service: the Kafka shell around `EventProcessor`. Rebuilds the index and the
/// ledger, then consumes the partitions of `cascade.events` that ownership gives it
/// (`OwnershipDriver`: beacons between the instances, no group membership), sends what each
/// event causes, and commits an event's offset only once all of it is acknowledged.
public final class BusService: ServiceLifecycle.Service, Sendable {
    public let processor: EventProcessor
    public let metrics: BusMetrics
    /// The nodes' latest reports, for `/nodes`.
    public let nodes = NodeDirectory()
    let configuration: BusConfiguration
    let graph: CacheGraph
    /// Reads back what the bus instances invalidated lately (at start, after a takeover).
    private let tail: InvalidationTail
    /// Read-backs of the invalidation topics after gains and takeovers, shared where one serves.
    private let tailReads: TailReads
    private let producer: KafkaProducerLanes
    private let commits: AcknowledgedCommits
    private let follower: StateFollower
    /// Partitioned state: the state of the partitions this instance owns; nil when it holds all.
    private let shares: ShareFollower?
    /// Partitioned state: the events partitions owned now, which alone may be consumed once
    /// their state is rebuilt, and those being read (the lock orders adding after a rebuild
    /// against removing).
    private let owned = NIOLockedValueBox<(owned: Set<Int32>, read: Set<Int32>)>(([], []))
    private let logger: Logger
    private let state = BusRunState()
    private let watermarks: WatermarkTracker
    let ownership: OwnershipDriver
    /// When each span in flight was sent, until its acknowledgement is timed too.
    private let spansInFlight: SpansInFlight
    /// Wakes `sendWatermarks` after a span is sent (at most one wake-up waits).
    private let watermarkWake: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)
    /// Partitioned state: what the events owned still wait for from their hops, and the credit
    /// this instance owes back once its spans are acknowledged (sent by `returnCredits`).
    private let credits = HopCredits()
    private let creditsToReturn: (stream: AsyncStream<HopCredits.Due>, continuation: AsyncStream<HopCredits.Due>.Continuation)

    /// `onSpanAcknowledged` hears each span of consumed events once every message they caused
    /// is acknowledged (from the producer's poll thread): for benchmarks and tests.
    public init(
        configuration: BusConfiguration, graph: CacheGraph, metrics: BusMetrics = BusMetrics(), logger: Logger,
        onSpanAcknowledged: (@Sendable (OffsetTracker.Completed) -> Void)? = nil
    ) throws {
        self.configuration = configuration
        self.graph = graph
        self.metrics = metrics
        self.logger = logger
        watermarks = WatermarkTracker(services: graph.serviceNames)
        // Partitioned, a gone key's grace is its router's (`EdgeRouter`): the index only applies records.
        let index = InstanceIndex(graph: graph, goneKeyGraceMillis: configuration.partitionedState ? 0 : configuration.goneKeyGraceMillis)
        let ledger = Ledger()
        // Partitioned state: the index holds this instance's share only, rebuilt partition by
        // partition as ownership gives them.
        let share = configuration.partitionedState
            ? IndexShare(
                index: index, partitioner: StatePartitioner(count: Int32(configuration.partitions)), holding: [], filter: HopFilter(graph: graph),
                goneKeyGraceMillis: configuration.goneKeyGraceMillis)
            : nil
        // Marks this instance's ledger records: it has them already, so the follower skips them.
        let writer = UUID().uuidString
        processor = EventProcessor(
            graph: graph, index: index, ledger: ledger, topics: configuration.topics,
            decoder: JSONEventDecoder(maxBytes: configuration.maxEventBytes),
            sourceDecoders: Dictionary(
                configuration.sources.map { ($0.topic, $0.decoder(entities: graph.entityNames, maxBytes: configuration.maxEventBytes)) },
                uniquingKeysWith: { _, last in last }),
            maxKeysPerMessage: configuration.maxKeysPerMessage,
            ledgerHeaders: [.init(StateFollower.writerHeader, writer)],
            cycleConflictWindowMillis: configuration.cycleConflictWindowMillis, cascadeMemoryBytes: configuration.cascadeMemoryBytes,
            tracing: configuration.tracing, share: share)
        ownership = try OwnershipDriver(
            instance: configuration.instance ?? "\(ProcessInfo.processInfo.hostName)-\(writer.prefix(8))",
            configuration: configuration, metrics: metrics, logger: logger, filter: share?.filter)
        let spansInFlight = SpansInFlight()
        self.spansInFlight = spansInFlight
        let watermarkWake = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.watermarkWake = watermarkWake
        creditsToReturn = AsyncStream<HopCredits.Due>.makeStream()
        let partitioned = configuration.partitionedState
        commits = try AcknowledgedCommits(kafka: configuration.kafka, logger: logger, lanes: configuration.producerLanes) { completed in
            spansInFlight.acknowledged(completed, atMillis: Timestamps.nowMillis())
            onSpanAcknowledged?(completed)
            // With partitioned state the watermarks follow what is acknowledged, hops included.
            if partitioned { watermarkWake.continuation.yield() }
        }
        producer = commits.producer
        let producer = self.producer
        let tail = InvalidationTail(kafka: configuration.kafka, topics: configuration.topics, services: graph.serviceNames, logger: logger)
        self.tail = tail
        let tailReads = TailReads(tail: tail, memory: processor.recentInvalidations)
        self.tailReads = tailReads
        var raceCheck = RegistrationRaceCheck(
            ledger: ledger, index: index, planner: processor.planner, recent: processor.recentInvalidations,
            windowMillis: configuration.raceWindowMillis)
        raceCheck.applyDelayMillis = { [nodes] service in nodes.applyDelayMillis(service: service) }
        let nodes = self.nodes
        shares = try share.map { share throws(KafkaError) in
            try Self.shareFollower(share, configuration, raceCheck, ledger, producer, writer, nodes, metrics, logger, tailReads)
        }
        if let shares {
            let events = configuration.topics.events
            ownership.gateOnWarmth { Set(shares.rebuilt.map { "\(events):\($0)" }) }
        }
        follower = try StateFollower(
            configuration: configuration, index: index, ledger: ledger, raceCheck: raceCheck, nodes: nodes, metrics: metrics, writer: writer,
            logger: logger, tail: tail
        ) { messages in
            // Awaited: the follower commits a registration as checked only once its
            // invalidations are delivered.
            await producer.deliver(messages, logger: logger, failure: "a race-check invalidation was not delivered")
        }
        if partitioned { sendCreditsOnceDelivered() }
    }

    /// Partitioned state: what follows the state of the partitions this instance holds.
    private static func shareFollower(
        _ share: IndexShare, _ configuration: BusConfiguration, _ raceCheck: RegistrationRaceCheck, _ ledger: Ledger,
        _ producer: KafkaProducerLanes, _ writer: String, _ nodes: NodeDirectory, _ metrics: BusMetrics, _ logger: Logger,
        _ tail: TailReads
    ) throws(KafkaError) -> ShareFollower {
        // Beacon rounds and a fetch: the others have heard of a family by then.
        var landing = EdgeLandingCheck(raceCheck: raceCheck, share: share, topics: configuration.topics, settleMillis: 500)
        landing.longestApplyDelayMillis = { nodes.longestApplyDelayMillis() }
        return try ShareFollower(
            configuration: configuration, share: share, ledger: ledger, landing: landing, producer: producer, writer: writer,
            metrics: metrics, logger: logger, tail: tail)
    }

    /// A span that consumed hops sends their credit back once its own messages are delivered,
    /// as its last messages (`HopCredits`, `returnCredits`).
    private func sendCreditsOnceDelivered() {
        commits.onDelivered { [credits, creditsToReturn] sequence in
            if let due = credits.delivered(sequence: sequence) { creditsToReturn.continuation.yield(due) }
        }
    }

    /// `configuration.topics.hops`, built once.
    private var hopsTopic: String { processor.hopsTopic }

    /// True once the index and the ledger are rebuilt.
    public var isReady: Bool { follower.ready }

    /// How far the rebuild of the index and the ledger is, in a line: how much of the state
    /// topics is still to read, per topic ("ready" once rebuilt).
    public var readiness: String { follower.readiness }

    /// Returns once the index and the ledger are rebuilt (or the bus is stopping).
    public func awaitReady() async { await follower.awaitReady() }

    /// Returns once the events consumer has taken its share of the partitions (or the bus is
    /// stopping): from then on an event published is processed at once.
    public func awaitConsuming() async { await state.awaitPartitions() }

    /// This instance's name among the bus instances.
    public var instance: String { ownership.instance }

    /// Partitioned state: the admin API of the live instance that owns the partition of `ref`
    /// (`Entity#id`, placed by Kafka's default partitioner), nil when it is this one or unknown.
    public func holderAdmin(of ref: String) -> String? {
        guard let share = processor.share else { return nil }
        let partition = "\(configuration.topics.events):\(share.partitioner.partition(of: ref))"
        let view = ownership.view
        guard !view.owned.contains(partition) else { return nil }
        let now = Timestamps.nowMillis()
        return view.peers.first { $0.value.owned.contains(partition) && view.isLive($0.value, nowMillis: now) }?.value.admin
    }

    /// Where this instance's admin API listens, for the other instances' `/shards`.
    public func setAdminURL(_ url: String) { ownership.setAdmin(url) }

    public func run() async throws {
        do {
            try await checkTopics()
        } catch {
            // The bus will never be ready: whoever awaits it must not wait for ever.
            follower.cancelWaiters()
            throw error
        }
        await shares?.awaitTopics()
        // The follower learns where the state topics end, reads them up to there (the bus is
        // then ready), and follows them; cancelled, the bus stops as on a graceful shutdown.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await self.follower.run() }
                    group.addTask { await self.consumeEvents() }
                    group.addTask { await self.runPeriodically() }
                    group.addTask { await self.driveOwnership() }
                    if let shares = self.shares { group.addTask { await shares.run() } }
                }
            } onGracefulShutdown: {
                Task { await self.stop() }
            }
        } onCancel: {
            Task { await self.stop() }
        }
        // The tasks end once the stop has closed what they read, which is before it is done:
        // the producer goes last, after the whole stop (started here if nothing started it).
        await stop()
        await state.awaitStopped()
        await producer.shutdown(timeout: .seconds(10))
        logger.info("bus stopped")
    }

    /// Creates the topics that are missing and refuses state topics partitioned otherwise
    /// than the events.
    private func checkTopics() async throws {
        await TopicSetup.createTopics(configuration, services: graph.serviceNames, logger: logger)
        let admin = try KafkaAdmin(configuration: configuration.kafka)
        if let mismatch = await TopicSetup.partitionMismatch(configuration, admin: admin) {
            logger.critical("\(mismatch)")
            throw BusStartError(description: mismatch)
        }
    }

    private func consumeEvents() async {
        await follower.awaitReady()
        guard !state.stopping else { return }
        logger.info("state rebuilt; consuming events", metadata: ["ledger": "\(processor.ledger.count)", "keys": "\(processor.index.statistics.registeredKeys)"])
        let consumer: KafkaConsumer
        do {
            consumer = try KafkaConsumer(
                configuration: configuration.kafka, subscription: .manual(commitGroup: configuration.groupID), logger: logger,
                maxBatch: configuration.consumerBatch)
        } catch {
            logger.critical("cannot start the events consumer", metadata: ["error": "\(error)"])
            return
        }
        guard state.consumerStarted(consumer) else {
            await consumer.shutdown()
            return
        }
        // Only now may ownership give it partitions: there is a consumer to read them.
        ownership.becameReady()
        let clock = ContinuousClock()
        for await event in consumer.events {
            switch event {
            case .messages(let batch):
                guard state.enter() else { continue }
                let fetched = clock.now
                var start = batch.startIndex
                while start < batch.endIndex && !state.stopping {
                    let end = min(batch.endIndex, start + Self.eventsPerSend)
                    await send(process(batch[start..<end], clock: clock), fetched: fetched, clock: clock)
                    start = end
                }
                state.leave()
            case .assigned(let partitions):
                // A partition's history starts over with its (new) owner's committed offset.
                commits.tracker.forget(partitions.map { .init(topic: $0.topic, partition: $0.partition) })
                // Watermarks and `CASCADE.AFTER` tokens name positions of the events topic only;
                // source topics (`--source`) have none.
                let events = partitions.filter { $0.topic == configuration.topics.events }
                let committed = events.isEmpty ? [] : (try? await consumer.committed(events)) ?? []
                for partition in events {
                    let next = committed.first { $0.partition == partition.partition }?.offset ?? -1
                    watermarks.assigned(partition.partition, next: max(0, next))
                }
                if !partitions.isEmpty { state.gotPartitions() }
            case .revoked(let partitions):
                commits.tracker.forget(partitions.map { .init(topic: $0.topic, partition: $0.partition) })
                for partition in partitions where partition.topic == configuration.topics.events {
                    watermarks.revoked(partition.partition)
                }
                credits.forget(partitions: Set(partitions.filter { $0.topic == configuration.topics.events }.map(\.partition)))
            case .error(let error):
                logger.warning("consumer error", metadata: ["error": "\(error)"])
            case .woken:
                break
            }
        }
    }

    /// Sends the beacon and follows ownership until the bus stops: partitions gained are read
    /// from their committed offsets, partitions lost are dropped (their acknowledged offsets
    /// are committed every 100 ms, so the next owner redoes little). A partition taken from an
    /// instance that went silent comes without that instance's memory of what it invalidated
    /// in its last moments: from then on the race check claims nothing from before, and the
    /// registrations read since it went silent are checked again.
    private func driveOwnership() async {
        let topics = configuration.eventTopics
        let discovery = Task {
            // The events topics may not exist yet (a cluster that auto-creates them on first
            // use); asking for them creates them there. Then every 10 s, to see them grow.
            var known: [TopicPartition] = []
            while !Task.isCancelled {
                let consumer = state.consumer
                var found: [TopicPartition] = []
                for topic in topics { found += await consumer?.partitions(of: topic) ?? [] }
                if !found.isEmpty && found != known {
                    known = found
                    ownership.setPartitions(found)
                }
                try? await Task.sleep(for: Set(known.map(\.topic)).count == topics.count ? .seconds(10) : .milliseconds(200))
            }
        }
        defer { discovery.cancel() }
        await ownership.run { change, ready, standby in
            guard let consumer = state.consumer else { return }
            if let goneSince = change.goneSinceMillis { recoverMemory(goneSinceMillis: goneSince) }
            if let shares {
                move(change, standby: standby, consumer: consumer, shares: shares)
                return
            }
            do {
                try consumer.remove(change.lost.compactMap(OwnershipDriver.partition))
                try consumer.add(change.gained.compactMap(OwnershipDriver.partition))
            } catch {
                logger.error("cannot move partitions", metadata: ["error": "\(error)"])
            }
            if ready { state.gotPartitions() }
        }
    }

    /// Partitioned state: a partition lost stops being read at once; one gained is read (its
    /// events and its hops) once its state is rebuilt, if still owned. The state of the
    /// partitions this instance stands by for is kept warm; the state of any other goes.
    private func move(_ change: PartitionOwnership.Change, standby: Set<String>, consumer: KafkaConsumer, shares: ShareFollower) {
        let events = configuration.topics.events
        let hops = configuration.topics.hops
        func numbers(_ names: some Sequence<String>) -> [Int32] {
            names.compactMap(OwnershipDriver.partition).filter { $0.topic == events }.map(\.partition)
        }
        let lost = numbers(change.lost)
        let gained = numbers(change.gained)
        let standing = Set(numbers(standby))
        let ownedNow = owned.withLockedValue { owned in
            for partition in lost {
                owned.owned.remove(partition)
                // One still rebuilding was never read.
                guard owned.read.remove(partition) != nil else { continue }
                do {
                    try consumer.remove([TopicPartition(topic: events, partition: partition), TopicPartition(topic: hops, partition: partition)])
                } catch {
                    logger.error("cannot stop reading a partition", metadata: ["partition": "\(partition)", "error": "\(error)"])
                }
            }
            owned.owned.formUnion(gained)
            return owned.owned
        }
        for partition in shares.holding where !ownedNow.contains(partition) {
            if standing.contains(partition) { shares.demote(partition) } else { shares.lose(partition) }
        }
        for partition in standing.subtracting(ownedNow) {
            Task { _ = await shares.hold(partition, owned: false) }
        }
        for partition in gained {
            Task {
                guard await shares.hold(partition, owned: true) else { return }
                let added = owned.withLockedValue { owned -> Bool in
                    guard owned.owned.contains(partition), !owned.read.contains(partition) else { return false }
                    do {
                        try consumer.add([TopicPartition(topic: events, partition: partition), TopicPartition(topic: hops, partition: partition)])
                        owned.read.insert(partition)
                        return true
                    } catch {
                        logger.error("cannot read a partition", metadata: ["partition": "\(partition)", "error": "\(error)"])
                        return false
                    }
                }
                if added { state.gotPartitions() }
            }
        }
    }

    /// After a takeover from an instance gone silent: reads back from the invalidation topics
    /// what that instance invalidated lately, then checks again the registrations read since
    /// the silence (those read during the read back too) against the memory with it. If the
    /// topics cannot be read, the memory claims nothing older than now before that recheck.
    private func recoverMemory(goneSinceMillis: Int64) {
        // From a race window (and the nodes' apply delay) before the silence: what a
        // registration read since may have missed.
        let since = goneSinceMillis - configuration.raceWindowMillis - nodes.longestApplyDelayMillis() - 500
        let takenAtMillis = Timestamps.nowMillis()
        Task { [follower, logger, metrics, tailReads] in
            do {
                let read = try await tailReads.read(sinceMillis: since, gainedAtMillis: takenAtMillis)
                metrics.memoryReadBack.increment()
                logger.info("read back what was invalidated before the takeover", metadata: [
                    "messages": "\(read.messages)", "keys": "\(read.keys)",
                    "covered_ms_before": "\(Timestamps.nowMillis() - read.coveredSinceMillis)",
                ])
            } catch {
                metrics.memoryNotReadBack.increment()
                logger.warning("claiming nothing from before the takeover", metadata: ["error": "\(error)"])
            }
            // A beacon travels for a few ms: start a little before the last one heard.
            follower.recheck(readSince: goneSinceMillis - 200)
        }
    }

    /// Events processed before their messages go out: enough that a span of one partition
    /// shares a batch per service, few enough that the first event does not wait long.
    static let eventsPerSend = 1024

    /// Runs the events through the pipeline on up to `configuration.workers` tasks at once,
    /// each owning whole partitions: one entity's events share a partition (they are keyed
    /// `Entity#id`), so each entity's events are still processed one after another, in order.
    private func process(_ messages: ArraySlice<KafkaMessage>, clock: ContinuousClock) async -> [EventSpan] {
        let workers = configuration.workers
        guard workers > 1, messages.count >= Self.smallestSharedBatch else { return processInOrder(messages, clock: clock) }
        var shares = [[KafkaMessage]](repeating: [], count: workers)
        for message in messages { shares[Int(message.partition) % workers].append(message) }
        return await withTaskGroup(of: [EventSpan].self) { group in
            for share in shares where !share.isEmpty {
                group.addTask { self.processInOrder(share[...], clock: clock) }
            }
            var spans: [EventSpan] = []
            for await done in group { spans.append(contentsOf: done) }
            return spans
        }
    }

    /// Below this many events one task does the work: handing off would cost more.
    static let smallestSharedBatch = 64

    /// Runs events through the pipeline one after another; their messages by partition span,
    /// in the order the partitions came.
    private func processInOrder(_ messages: ArraySlice<KafkaMessage>, clock: ContinuousClock) -> [EventSpan] {
        var spans: [EventSpan] = []
        var spanOf: [OffsetTracker.PartitionKey: Int] = [:]
        for message in messages {
            let started = clock.now
            let nowMillis = Timestamps.nowMillis()
            let source = SourcePosition(topic: message.topic, partition: message.partition, offset: message.offset)
            let isHop = shares != nil && message.topic == hopsTopic
            // A message of the hops topic may carry a batch of hops: one result each.
            let results = isHop && message.header(HopCredit.header) != nil
                ? [creditReturned(message)]
                : isHop
                ? processor.processHops(value: message.valueBytes, source: source, nowMillis: nowMillis)
                : [processor.process(
                    key: message.keyBytes, value: message.valueBytes,
                    headers: message.headers.map { SourceMessage.Header($0.name, $0.value) }, source: source, nowMillis: nowMillis)]
            let elapsed = (clock.now - started) / max(1, results.count)
            let partition = OffsetTracker.PartitionKey(topic: message.topic, partition: message.partition)
            let index: Int
            if let known = spanOf[partition] {
                index = known
            } else {
                index = spans.count
                spanOf[partition] = index
                spans.append(EventSpan(
                    partition: partition, maxBatchBytes: configuration.maxBatchBytes, hopsTopic: shares == nil ? nil : hopsTopic))
            }
            for result in results {
                metrics.record(result, elapsed: elapsed)
                if logger.logLevel <= .trace { traceClosure(result, message) }
                if case .deadLetter = result.outcome { rememberDeadLetter(message, result, atMillis: nowMillis) }
                spans[index].add(
                    offset: message.offset, result.messages, eventID: configuration.onEventSent == nil ? nil : result.eventID,
                    cascade: Self.cascade(of: result, message, consumedMillis: nowMillis))
                spans[index].credit(owed: result.owedCredit, returning: result.creditToReturn)
            }
        }
        return spans
    }

    /// A post-mortem's trace (`--log-level trace`): what an event or hop reached, and where.
    private func traceClosure(_ result: ProcessingResult, _ message: KafkaMessage) {
        guard let closure = result.closure else { return }
        logger.trace("closure", metadata: [
            "topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)", "root": "\(closure.root)",
            "cause": "\(result.cause.map { "\($0.entity)#\($0.id)@\($0.version)" } ?? "")",
            "names": "\(closure.entries.map(\.name))", "hops": "\(result.hops.map(\.name))",
        ])
    }

    /// Credit an event's hops sent back (`HopCredits`): once all of it is back, the event's
    /// span counts as acknowledged. Causes nothing to send.
    private func creditReturned(_ message: KafkaMessage) -> ProcessingResult {
        for credit in (message.valueBytes.flatMap { try? HopCredit.decodeAll($0) } ?? []) {
            if let sequence = credits.returned(credit) { commits.acknowledge(sequence: sequence) }
        }
        return ProcessingResult(outcome: .skipped(reason: "hop-credit"), messages: [], fanOut: [], throughCycle: false, unresolved: [])
    }

    /// Sends back, to each event's partition of the hops topic, the credit of hops whose
    /// messages are delivered (one message per partition): the last messages of their span,
    /// which is acknowledged (and its offsets committed) once they are.
    private func returnCredits() async {
        let header = [KafkaHeader(name: HopCredit.header, value: Array("1".utf8))]
        for await due in creditsToReturn.stream {
            for (index, batch) in HopCredit.batches(due.credits).enumerated() {
                do throws(KafkaError) {
                    try await producer.produce(
                        topic: configuration.topics.hops, key: Array("credit".utf8), value: HopCredit.encode(batch: batch), headers: header,
                        partition: batch[0].origin.partition, token: AcknowledgedCommits.token(sequence: due.sequence, position: due.position + index))
                } catch {
                    logger.error("cannot return the credit of a hop", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// What the memory of cascades keeps of an event's cascade; nil when it caused none.
    private static func cascade(
        of result: ProcessingResult, _ message: KafkaMessage, consumedMillis: Int64
    ) -> (root: CascadeMemory.Root, closure: InstanceClosure)? {
        guard let closure = result.closure, !closure.slots.isEmpty, let cause = result.cause else { return nil }
        // Most events carry no headers: the trace is looked for only where there are some.
        let traceparent = message.headers.isEmpty ? nil : message.header("traceparent") ?? message.header("ce_traceparent")
        let root = CascadeMemory.Root(
            entity: cause.entity, id: cause.id, version: cause.version, eventID: cause.eventID, topic: message.topic,
            partition: message.partition, offset: message.offset, traceID: traceparent.flatMap(CascadeMemory.traceID(traceparent:)),
            producedMillis: message.timestampMillis, consumedMillis: consumedMillis, kind: result.kind.rawValue)
        return (root, closure)
    }

    private func rememberDeadLetter(_ message: KafkaMessage, _ result: ProcessingResult, atMillis: Int64) {
        guard case .deadLetter(let kind) = result.outcome else { return }
        let detail = result.messages.first?.headers.first { $0.name == DeadLetter.detailHeader }.map { String(decoding: $0.value, as: UTF8.self) }
        processor.cascades.rememberDeadLetter(CascadeMemory.DeadLetter(
            key: message.keyString ?? "", reason: detail.map { "\(kind): \($0)" } ?? kind, topic: message.topic,
            partition: message.partition, offset: message.offset, atMillis: atMillis))
    }

    /// Sends each span's messages; its offsets become committable once all are acknowledged.
    /// The last batch of each service carries the span's watermark; services the span did
    /// not reach hear of it from `sendWatermarks`.
    private func send(_ spans: [EventSpan], fetched: ContinuousClock.Instant, clock: ContinuousClock) async {
        for var span in spans {
            let partition = span.partition.partition
            let told = span.services
            // Watermarks count positions of the events topic (what `CASCADE.AFTER` tokens name).
            let isEvents = span.partition.topic == configuration.topics.events
            // With partitioned state the watermarks wait for the hops (`sendWatermarks`).
            let followsSends = isEvents && shares == nil
            let outbound = span.finish(watermark: followsSends ? watermarks.watermark(partition, through: span.lastOffset) : nil)
            if !span.cascades.isEmpty {
                span.times.sent(atMillis: Timestamps.nowMillis())
                spansInFlight.sent(span.times, partition: span.partition, lastOffset: span.lastOffset)
                processor.cascades.remember(span.cascades)
            }
            // Beside its messages, the span waits for the credit of its events' hops to come back
            // (one unit), and for the credit it returns to be delivered (one message per partition).
            let sequence = commits.tracker.begin(
                span.partition, offsets: span.firstOffset...span.lastOffset, events: span.events,
                messages: outbound.count + (span.owed.isEmpty ? 0 : 1) + HopCredit.batches(span.returns).count)
            if let due = credits.began(sequence: sequence, messages: outbound.count, owed: span.owed, returns: span.returns) {
                creditsToReturn.continuation.yield(due)
            }
            for (position, message) in outbound.enumerated() {
                do {
                    try await producer.produce(
                        topic: message.topic, key: message.key, value: message.value, headers: message.headers.kafka,
                        partition: message.partition, token: AcknowledgedCommits.token(sequence: sequence, position: position))
                } catch {
                    logger.error("cannot enqueue message", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
                }
            }
            if followsSends { watermarks.sent(partition, through: span.lastOffset, told: told) }
            if let observe = configuration.onEventSent {
                let sent = clock.now
                for id in span.eventIDs { observe(id, fetched, sent) }
            }
        }
        watermarkWake.continuation.yield()
    }

    /// Commits, probes partition ends and sends watermarks until the bus begins stopping.
    private func runPeriodically() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.commitPeriodically() }
            group.addTask { await self.probeEnds() }
            group.addTask { await self.sendWatermarks() }
            group.addTask { await self.tellRegistrations() }
            if self.shares != nil { group.addTask { await self.returnCredits() } }
            await state.awaitStopping()
            group.cancelAll()
        }
    }

    /// Keeps the count the beacon carries (for `/shards`) within a second.
    private func tellRegistrations() async {
        while !Task.isCancelled {
            ownership.setRegistrations(processor.index.registeredKeys)
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Asks the brokers for the end of the owned partitions four times a second: a watermark
    /// may only say the bus is current as of a moment it saw the end and had reached it.
    private func probeEnds() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(250))
            guard let consumer = state.consumer else { continue }
            let owned = watermarks.owned
            guard !owned.isEmpty else { continue }
            let startedAt = Timestamps.nowMillis()
            let ends = await consumer.endOffsets(owned.map { TopicPartition(topic: configuration.topics.events, partition: $0) })
            // A probe that failed, or that waited on a stalled broker, marks an outage: producers
            // may still hold events from it, so no end is believed for a while after.
            guard let ends, Timestamps.nowMillis() - startedAt < 200 else {
                watermarks.probeFailed(atMillis: startedAt)
                continue
            }
            for end in ends { watermarks.probed(end.partition, end: end.offset, atMillis: startedAt) }
        }
    }

    /// Tells every service how far each owned partition is done: right after a span it did
    /// not reach (at most every 2 ms, so a busy bus sends a few per partition, not one per
    /// span), and every service at least every 500 ms, so an idle stream is not mistaken for a
    /// stalled one. Each goes under the batch key of its partition, behind the batches it covers.
    private func sendWatermarks() async {
        var heartbeatAt = ContinuousClock.now
        var wakes = watermarkWake.stream.makeAsyncIterator()
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                watermarkWake.continuation.yield()
            }
        }
        defer { ticker.cancel() }
        while !Task.isCancelled {
            _ = await wakes.next()
            try? await Task.sleep(for: .milliseconds(2))
            let heartbeat = ContinuousClock.now - heartbeatAt >= .milliseconds(500)
            if heartbeat { heartbeatAt = .now }
            if shares != nil {
                // Acknowledged, hops included: behind what it caused on every service topic.
                for (key, next) in commits.tracker.frontier where key.topic == configuration.topics.events {
                    watermarks.sent(key.partition, through: next - 1, told: [])
                }
            }
            for (service, watermark) in watermarks.due(all: heartbeat) {
                var writer = InvalidationBatch.Writer()
                do throws(KafkaError) {
                    try await producer.produce(
                        topic: configuration.topics.invalidations(service: service),
                        key: EventSpan.batchKey(topic: configuration.topics.events, partition: watermark.partition),
                        value: writer.finish(watermark: watermark), token: 0)
                } catch {
                    logger.warning("cannot enqueue a watermark", metadata: ["service": "\(service)", "error": "\(error)"])
                }
            }
        }
    }

    /// Also refreshes the state gauges, so they are right at rest, whatever the last batch of
    /// the state topics left them at (the registrations of a race check, say, come later).
    private func commitPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
            metrics.indexedKeys.set(Double(processor.index.registeredKeys))
            metrics.gracedKeys.set(Double(processor.share?.gracedKeys ?? processor.index.gracedKeys))
            metrics.ledgerEntries.set(Double(processor.ledger.count))
            guard let consumer = state.consumer else { continue }
            await commits.commitAcknowledged(consumer)
            metrics.lag.set(Double(consumer.lag))
            metrics.inFlight.set(Double(commits.tracker.inFlight))
        }
    }

    /// Finishes the event in hand, waits for its acknowledgements, commits, leaves the group.
    private func stop() async {
        guard state.beginStopping() else { return }
        follower.cancelWaiters()
        let state = self.state
        _ = await completesWithin(.seconds(10)) { await state.awaitIdle() }
        await commits.drain(state.consumer, timeout: .seconds(10))
        // Everything acknowledged is committed: the others may take over from here at once.
        await ownership.sayGoodbye()
        await state.consumer?.shutdown()
        await ownership.shutdown()
        await follower.shutdown()
        await shares?.shutdown()
        state.finishStopping()
    }
}

/// Why the bus cannot start, in words.
public struct BusStartError: Error, CustomStringConvertible {
    public var description: String
}

extension [OutboundMessage.Header] {
    var kafka: [KafkaHeader] { map { KafkaHeader(name: $0.name, value: $0.value) } }
}
