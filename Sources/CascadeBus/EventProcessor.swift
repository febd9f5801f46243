import CascadeGraph
import CascadeTracing
import CascadeWire

/// The pipeline without Kafka: raw event bytes in, the messages they cause out.
/// decode → validate against the graph → ledger order and conflict checks → closure →
/// per-service fan-out → concurrent updates inside a circular component. Calls for one entity must come in order (the shell processes a
/// partition sequentially); the ledger and index it shares are thread-safe.
public struct EventProcessor: Sendable {
    public let graph: CacheGraph
    public let index: InstanceIndex
    public let ledger: Ledger
    public let topics: Topics
    let decoder: any DomainEventDecoder
    /// Decoders of the source topics (`--source`), by topic; others use `decoder`.
    let sourceDecoders: [String: any DomainEventDecoder]
    let planner: FanOutPlanner
    let facts: GraphFacts
    /// Headers on the ledger records this processor writes (the bus marks its own, so that
    /// reading them back costs no decoding).
    let ledgerHeaders: [OutboundMessage.Header]
    /// `topics.ledger`, built once (the getter builds a String per call).
    let ledgerTopic: String
    /// `topics.hops`, built once.
    let hopsTopic: String
    /// Nil when the cycle-conflict window is 0 (the check is off).
    let cycleWatch: CycleConflictWatch?
    /// When each key was last invalidated, for the registration race check.
    let recentInvalidations: RecentInvalidations
    /// The recent cascades, for `cascade why`; the shell remembers what it sends.
    public let cascades: CascadeMemory
    /// A span per event resolved (`--otlp-endpoint`); nil when tracing is off.
    let tracing: SpanStarter?
    /// Partitioned state (`--partitioned-state`): this instance's share of the index, whose
    /// closures hand keys with dependents elsewhere on as hops. Nil: `index` is the whole index.
    public let share: IndexShare?

    /// `cycleConflictWindowMillis`: events for different instances from different origins whose
    /// `at` times are at most this far apart, reaching a common key of a circular family, are
    /// a conflict; 0 turns the check off. `invalidationMemoryMillis`: how long the keys
    /// invalidated are remembered at least (registrations that take longer to reach the bus
    /// are invalidated whatever they depend on).
    public init(
        graph: CacheGraph, index: InstanceIndex, ledger: Ledger, topics: Topics,
        decoder: any DomainEventDecoder = JSONEventDecoder(), sourceDecoders: [String: any DomainEventDecoder] = [:],
        maxKeysPerMessage: Int = 1000,
        ledgerHeaders: [OutboundMessage.Header] = [], cycleConflictWindowMillis: Int64 = 1000,
        invalidationMemoryMillis: Int64 = 60_000, startMillis: Int64 = Timestamps.nowMillis(),
        cascadeMemoryBytes: Int = CascadeMemory.defaultMaxBytes, tracing: SpanStarter? = nil, share: IndexShare? = nil
    ) {
        self.share = share
        self.tracing = tracing
        self.cascades = CascadeMemory(maxBytes: cascadeMemoryBytes)
        self.recentInvalidations = RecentInvalidations(retentionMillis: invalidationMemoryMillis, startMillis: startMillis)
        self.ledgerHeaders = ledgerHeaders
        self.ledgerTopic = topics.ledger
        self.hopsTopic = topics.hops
        self.cycleWatch = cycleConflictWindowMillis > 0 ? CycleConflictWatch(windowMillis: cycleConflictWindowMillis) : nil
        self.graph = graph
        self.index = index
        self.ledger = ledger
        self.topics = topics
        self.decoder = decoder
        self.sourceDecoders = sourceDecoders
        self.planner = FanOutPlanner(topics: topics, maxKeysPerMessage: max(1, maxKeysPerMessage), services: graph.serviceNames)
        self.facts = GraphFacts(graph: graph)
    }

    public func process(
        key: [UInt8]?, value: [UInt8]?, headers: [SourceMessage.Header] = [], source: SourcePosition, nowMillis: Int64
    ) -> ProcessingResult {
        let event: DomainEvent
        // Other formats (`--source`) have keys of their own; Cascade's events are keyed Entity#id.
        let native = sourceDecoders.isEmpty || sourceDecoders[source.topic] == nil
        do {
            let decoder = native ? decoder : sourceDecoders[source.topic] ?? decoder
            switch try decoder.decode(SourceMessage(key: key, value: value, headers: headers)) {
            case .event(let decoded): event = decoded
            case .skip(let reason):
                return ProcessingResult(outcome: .skipped(reason: reason), messages: [], fanOut: [], throughCycle: false, unresolved: [])
            }
        } catch {
            return deadLetter(key, value, error, source)
        }
        // Most events carry no trace and tracing is mostly off: then nothing more is looked at.
        var result = tracing != nil || event.traceparent != nil || !headers.isEmpty
            ? traced(event, key: key, value: value, headers: headers, source: source, native: native, nowMillis: nowMillis)
            : resolve(event, key: key, value: value, source: source, native: native, nowMillis: nowMillis)
        if share != nil {
            // The ledger record goes where the event came from: that partition's next holder
            // orders its entity's events by it, whatever partitioner their producer used.
            for index in result.messages.indices where result.messages[index].topic == ledgerTopic {
                result.messages[index].partition = source.partition
            }
            giveCredit(&result, source: source)
        }
        return result
    }

    /// The event's hops share its credit (`HopCredits`): its span is acknowledged once all of
    /// it has come back.
    private func giveCredit(_ result: inout ProcessingResult, source: SourcePosition) {
        guard !result.hops.isEmpty else { return }
        let origin = HopCredit.Origin(partition: source.partition, offset: source.offset, ticket: UInt64.random(in: 1...UInt64.max))
        for (index, (var hop, credit)) in zip(result.hops, HopCredits.split(HopCredits.whole, into: result.hops.count)).enumerated() {
            hop.origin = origin
            hop.credit = credit
            hop.piece = HopCredit.piece(of: origin.ticket, index + 1)
            result.messages.append(hopMessage(hop))
        }
        result.hopsSent = result.hops.count
        result.hops = []
        result.owedCredit = origin
    }

    /// `resolve` with the event's trace carried on: in a span of its own when sampled, the
    /// traceparent the event came with otherwise. A malformed traceparent is dropped.
    private func traced(
        _ event: DomainEvent, key: [UInt8]?, value: [UInt8]?, headers: [SourceMessage.Header], source: SourcePosition,
        native: Bool, nowMillis: Int64
    ) -> ProcessingResult {
        var event = event
        let incoming = event.traceparent.flatMap { Traceparent($0) }
            ?? headers.last { $0.name == "traceparent" }?.value.flatMap { Traceparent(bytes: $0) }
        guard let tracing, let span = tracing.start("cascade.bus.resolve", kind: .consumer, parent: incoming) else {
            event.traceparent = incoming?.value
            return resolve(event, key: key, value: value, source: source, native: native, nowMillis: nowMillis)
        }
        event.traceparent = tracing.traceparent(of: span)?.value ?? incoming?.value
        span.attributes["cascade.event.id"] = event.eventID
        span.attributes["cascade.event.entity"] = event.ref.entity
        span.attributes["cascade.event.ref"] = event.ref.description
        span.attributes["cascade.event.op"] = event.op.rawValue
        span.attributes["cascade.event.version"] = Int64(truncatingIfNeeded: event.version)
        span.attributes["messaging.kafka.offset"] = source.offset
        span.attributes["messaging.kafka.partition"] = Int64(source.partition)
        let result = resolve(event, key: key, value: value, source: source, native: native, nowMillis: nowMillis)
        span.attributes["cascade.outcome"] = "\(result.outcome)"
        span.attributes["cascade.keys"] = result.fanOut.reduce(0) { $0 + $1.keys }
        span.attributes["cascade.services"] = result.fanOut.map(\.service)
        span.end()
        return result
    }

    /// The event checked against the graph and the ledger, and the messages it causes.
    private func resolve(
        _ event: DomainEvent, key: [UInt8]?, value: [UInt8]?, source: SourcePosition, native: Bool, nowMillis: Int64
    ) -> ProcessingResult {
        guard let entity = facts.entities[event.ref.entity] else {
            let known = graph.entityNames.joined(separator: ", ")
            return deadLetter(key, value, EventRejection("unknown-entity", "entity '\(event.ref.entity)' is not in the graph (known: \(known))"), source)
        }
        if native, let key, !key.isEmpty, !Self.isKey(key, of: event.ref) {
            let named = String(decoding: key.prefix(200), as: UTF8.self)
            return deadLetter(key, value, EventRejection(
                "key-mismatch", "the message key '\(named)' is not the event's Entity#id '\(event.ref)': its events would lose their order"), source)
        }
        let ref = event.ref.description
        // The Kafka key of the ledger record and of the invalidations alike: a native event's
        // own key when it has one (checked above to be these bytes), else copied once.
        let refKey: [UInt8]
        if native, let key, !key.isEmpty {
            refKey = key
        } else {
            refKey = Array(ref.utf8)
        }
        let record = LedgerRecord(
            entity: event.ref.entity, id: event.ref.id, version: event.version, origin: event.origin,
            atMillis: event.atMillis, eventID: event.eventID, digest: EventDigest.of(event))

        // News (no entry, or a newer version) is entered at once: one look at the ledger.
        guard let current = ledger.enterIfNewer(ref, Ledger.Entry(record: record, seenAtMillis: nowMillis)) else {
            return advance(event, entity, record, ref, refKey, nowMillis)
        }
        if event.version < current.record.version {
            // Another writer, or a later write at the origin under an older version, is news the
            // ledger's version does not cover: a conflict. Otherwise it is a plain late arrival.
            if record.origin != current.record.origin || record.atMillis > current.record.atMillis {
                return resolveConflict(event, entity, record, current, ref, refKey, nowMillis: nowMillis)
            }
            // Late: drop what it names again (harmless), but fence at the ledger's version.
            return cascade(
                event, entity, ref, refKey, kind: .invalidate, cause: cause(of: current.record), fence: current.record.version,
                outcome: .late, nowMillis: nowMillis)
        }
        if record.digest == current.record.digest && record.origin == current.record.origin {
            return cascade(
                event, entity, ref, refKey, kind: .invalidate, cause: cause(of: record), fence: record.version, outcome: .duplicate,
                nowMillis: nowMillis)
        }
        return resolveConflict(event, entity, record, current, ref, refKey, nowMillis: nowMillis)
    }

    /// The cascade of an event the ledger has just entered.
    private func advance(
        _ event: DomainEvent, _ entity: GraphFacts.Entity, _ record: LedgerRecord, _ ref: String, _ refKey: [UInt8], _ nowMillis: Int64
    ) -> ProcessingResult {
        var result = cascade(
            event, entity, ref, refKey, kind: .invalidate, cause: cause(of: record), fence: record.version, outcome: .invalidated,
            nowMillis: nowMillis, touching: record)
        result.messages.append(OutboundMessage(topic: ledgerTopic, key: refKey, value: record.fastEncoded(), headers: ledgerHeaders))
        return result
    }

    private func resolveConflict(
        _ event: DomainEvent, _ entity: GraphFacts.Entity, _ record: LedgerRecord, _ current: Ledger.Entry, _ ref: String,
        _ refKey: [UInt8], nowMillis: Int64
    ) -> ProcessingResult {
        let challenger = ConflictArbiter.Contender(record)
        let holder = ConflictArbiter.Contender(current.record)
        let newWins = ConflictArbiter.beats(challenger, holder, policy: entity.policy)
        let winner = newWins ? record : current.record
        let loser = newWins ? current.record : record
        let late = record.version < current.record.version
        // A fence never goes below the ledger's version, whoever wins.
        var result = cascade(
            event, entity, ref, refKey, kind: .resolve, cause: cause(of: winner), fence: max(winner.version, current.record.version),
            outcome: late ? .lateConflict : .conflict, nowMillis: nowMillis)
        if newWins && !late {
            ledger.set(ref, Ledger.Entry(record: record, seenAtMillis: nowMillis))
            result.messages.append(OutboundMessage(topic: ledgerTopic, key: refKey, value: record.fastEncoded(), headers: ledgerHeaders))
        }
        let conflict = ConflictRecord(
            entity: event.ref.entity, id: event.ref.id, policy: ConflictArbiter.policyName(entity.policy),
            winner: contender(winner), losers: [contender(loser)],
            reason: late
                ? "\(record.origin) published version \(record.version) after version \(current.record.version) from \(current.record.origin) was known"
                : loser.origin == winner.origin
                ? "two events for version \(winner.version) from \(winner.origin) carry different content"
                : "\(winner.origin) and \(loser.origin) both published version \(winner.version) with different content")
        result.messages.append(OutboundMessage(topic: topics.conflicts, key: refKey, value: conflict.encoded()))
        return result
    }

    /// The closure of the event, one message per affected service. With `touching` (a ledger
    /// advance), the circular keys it reaches are checked for concurrent updates. The keys are
    /// remembered as invalidated before any registration can enter the index after the closure.
    /// `ref`: the event's `Entity#id`, and `refKey` its bytes, the messages' Kafka key.
    private func cascade(
        _ event: DomainEvent, _ entity: GraphFacts.Entity, _ ref: String, _ refKey: [UInt8], kind: InvalidationMessage.Kind,
        cause: InvalidationMessage.Cause, fence: UInt64, outcome: ProcessingResult.Outcome, nowMillis: Int64,
        touching: LedgerRecord? = nil
    ) -> ProcessingResult {
        var cause = cause
        cause.traceparent = event.traceparent
        // A local function, not a closure in a constant: passed on without escaping, its
        // context stays on the stack (the constant's was an allocation per event).
        func remember(_ closure: InstanceClosure) {
            recentInvalidations.record(closure.slots.lazy.map { Int(truncatingIfNeeded: $0.hash) }, atMillis: nowMillis)
        }
        let closure: InstanceClosure
        var hops: [StateHop] = []
        if let share {
            // The event's id names its root: a redelivery's hops are the same root's, which the
            // shares that expanded them already skip (the first delivery's hops were sent).
            let part = share.closure(of: event, root: "\(ref)@\(event.version) \(event.eventID)", whileLocked: remember)
            closure = part.closure
            hops = part.hops
        } else {
            closure = index.closure(of: event, ref: ref, whileLocked: remember)
        }
        let rootTag = closure.root
        let plan = planner.plan(
            kind: kind, cause: cause, rootTag: rootTag, kafkaKey: refKey, closure: closure,
            tagOnly: entity.tagServices,
            fences: CollectionOfOne(InvalidationMessage.Fence(ref: rootTag, version: fence)))
        var result = ProcessingResult(
            outcome: outcome, messages: plan.messages, fanOut: plan.fanOut,
            throughCycle: entity.cyclic, unresolved: closure.unresolved, eventID: event.eventID,
            closure: closure, cause: cause, kind: kind)
        result.hops = hops.map { hop in
            var hop = hop
            hop.fenceVersion = fence
            hop.eventID = cause.eventID
            hop.atMillis = cause.atMillis
            return hop
        }
        if let touching, let cycleWatch {
            resolveCycleConflicts(closure, touching, watch: cycleWatch, nowMillis: nowMillis, into: &result)
        }
        return result
    }

    /// A message of the hops topic: a batch of hops (or one), each processed as `process(hop:)`
    /// does, in order. A message that is no hop is one dead letter.
    public func processHops(value: [UInt8]?, source: SourcePosition, nowMillis: Int64) -> [ProcessingResult] {
        guard share != nil else {
            return [ProcessingResult(outcome: .skipped(reason: "hop-without-share"), messages: [], fanOut: [], throughCycle: false, unresolved: [])]
        }
        let hops: [StateHop]
        do {
            guard let value else { throw EventRejection("bad-hop", "a hop without a value") }
            hops = try StateHop.decodeAll(value, partition: source.partition)
        } catch {
            let rejection = error as? EventRejection ?? EventRejection("bad-hop", "not a hop: \(error)")
            return [deadLetter(nil, value, rejection, source)]
        }
        return hops.map { process(hop: $0, nowMillis: nowMillis) }
    }

    /// A hop of partitioned state from another share (or this one): the keys its key's
    /// registered dependents here reach, fenced and caused as the root event's, and the hops
    /// they lead on to. A hop this share expanded for its root already causes nothing.
    func process(hop: StateHop, nowMillis: Int64) -> ProcessingResult {
        guard let share else {
            return ProcessingResult(outcome: .skipped(reason: "hop-without-share"), messages: [], fanOut: [], throughCycle: false, unresolved: [])
        }
        let recent = recentInvalidations
        let handedOn = RecentInvalidations.hash(hop.name)
        let part = share.closure(of: hop) { closure in
            // The key handed on was invalidated by its sender: its registered dependents'
            // race checks land here, so its memory must be here too.
            recent.record(CollectionOfOne(handedOn), atMillis: nowMillis)
            recent.record(closure.slots.lazy.map { Int(truncatingIfNeeded: $0.hash) }, atMillis: nowMillis)
        }
        guard let part else {
            var result = ProcessingResult(
                outcome: .skipped(reason: "hop-expanded-already"), messages: [], fanOut: [], throughCycle: false, unresolved: [])
            result.creditToReturn = hop.origin.map { HopCredit(origin: $0, credit: hop.credit, piece: HopCredit.piece(of: hop.piece, 0)) }
            return result
        }
        let fenced = !hop.fence.entity.isEmpty
        let rootTag = fenced ? hop.fence.description : hop.fence.id
        let cause = InvalidationMessage.Cause(
            eventID: hop.eventID, entity: hop.fence.entity, id: hop.fence.id, version: hop.fenceVersion, atMillis: hop.atMillis)
        let plan = planner.plan(
            kind: .invalidate, cause: cause, rootTag: rootTag, kafkaKey: Array(rootTag.utf8), closure: part.closure, tagOnly: [],
            fences: fenced ? [InvalidationMessage.Fence(ref: rootTag, version: hop.fenceVersion)] : [], includeRootTag: false)
        var messages = plan.messages
        var onward = part.hops
        var result = ProcessingResult(
            outcome: .handedOn, messages: [], fanOut: plan.fanOut, throughCycle: false,
            unresolved: [], eventID: hop.eventID.isEmpty ? nil : hop.eventID, closure: part.closure, cause: cause)
        if let origin = hop.origin {
            // Behind the root's watermarks, on the partition of each service topic they go to.
            let rootKey = EventSpan.batchKey(topic: topics.events, partition: origin.partition)
            messages = messages.map { message in
                var batch = message.asBatch
                batch.service = nil
                batch.key = rootKey
                return batch
            }
            // A part for this instance, returned once its own messages are acknowledged; the
            // rest to the hops it hands on.
            let shares = HopCredits.split(hop.credit, into: onward.count + 1)
            for index in onward.indices {
                onward[index].origin = origin
                onward[index].credit = shares[index + 1]
                onward[index].piece = HopCredit.piece(of: hop.piece, index + 1)
            }
            result.creditToReturn = HopCredit(origin: origin, credit: shares[0], piece: HopCredit.piece(of: hop.piece, 0))
        }
        result.messages = messages + onward.map(hopMessage)
        result.hopsSent = onward.count
        return result
    }

    /// A hop on the hops topic: keyed by the key handed on, in the partition that holds it.
    func hopMessage(_ hop: StateHop) -> OutboundMessage {
        OutboundMessage(topic: hopsTopic, key: Array(hop.name.utf8), value: hop.encoded(), partition: hop.partition)
    }

    /// Asks the watch about the circular keys of the closure; for each earlier concurrent event,
    /// a record on the conflicts topic and a `resolve` message per service owning a shared key,
    /// caused by the winner and fencing both instances.
    private func resolveCycleConflicts(
        _ closure: InstanceClosure, _ record: LedgerRecord, watch: CycleConflictWatch, nowMillis: Int64,
        into result: inout ProcessingResult
    ) {
        let count = closure.slots.reduce(0) { $1.circular ? $0 + 1 : $0 }
        guard count > 0 else { return }
        // The circular keys' positions in the closure, then their hashes: scratch on the stack.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * count) { scratch in
            var filled = 0
            for (index, slot) in closure.slots.enumerated() where slot.circular {
                scratch[filled] = index
                scratch[count + filled] = Int(truncatingIfNeeded: slot.hash)
                filled += 1
            }
            let circular = UnsafeBufferPointer(rebasing: scratch[..<count])
            let keys = UnsafeBufferPointer(rebasing: scratch[count...])
            for found in watch.record(record, keys: keys, nowMillis: nowMillis) {
                resolve(found, circular: circular)
            }
        }

        func resolve(_ found: CycleConflictWatch.Concurrent, circular: UnsafeBufferPointer<Int>) {
            let newWins = ConflictArbiter.beatsInCycle(.init(record), .init(found.other))
            let winner = newWins ? record : found.other
            let loser = newWins ? found.other : record
            let winnerRef = winner.entity + "#" + winner.id
            let loserRef = loser.entity + "#" + loser.id
            // Each instance fenced at its version in the event, or the ledger's if that is newer.
            let fences = [(winnerRef, winner.version), (loserRef, loser.version)].map { ref, version in
                InvalidationMessage.Fence(ref: ref, version: max(version, ledger.entry(ref)?.record.version ?? 0))
            }
            let plan = planner.plan(
                kind: .resolve, cause: cause(of: winner), rootTag: winnerRef, closure: closure,
                positions: found.shared.map { circular[$0] }, tagOnly: [],
                fences: fences, includeRootTag: false)
            result.messages.append(contentsOf: plan.messages)
            let shared = found.shared.prefix(3).map { closure.name(circular[$0]) }.joined(separator: ", ")
                + (found.shared.count > 3 ? " and \(found.shared.count - 3) more" : "")
            let conflict = ConflictRecord(
                entity: winner.entity, id: winner.id, policy: ConflictArbiter.cyclePolicyName,
                winner: contender(winner, withRef: true), losers: [contender(loser, withRef: true)],
                reason: "\(winner.origin) and \(loser.origin) updated \(winnerRef) and \(loserRef) "
                    + "\(abs(winner.atMillis - loser.atMillis)) ms apart (window \(watch.windowMillis) ms); "
                    + "both reach \(shared) in a cycle")
            result.messages.append(OutboundMessage(topic: topics.conflicts, key: Array(winnerRef.utf8), value: conflict.encoded()))
            result.cycleConflicts += 1
        }
    }

    /// Whether `key` is `Entity#id` of `ref`, compared by bytes (no String per event).
    static func isKey(_ key: [UInt8], of ref: EntityRef) -> Bool {
        let entity = ref.entity.utf8
        let id = ref.id.utf8
        guard key.count == entity.count + 1 + id.count, key[entity.count] == UInt8(ascii: "#") else { return false }
        return key[..<entity.count].elementsEqual(entity) && key[(entity.count + 1)...].elementsEqual(id)
    }

    private func deadLetter(_ key: [UInt8]?, _ value: [UInt8]?, _ rejection: EventRejection, _ source: SourcePosition) -> ProcessingResult {
        ProcessingResult(
            outcome: .deadLetter(kind: rejection.kind),
            messages: [DeadLetter.message(topics: topics, key: key, value: value, rejection: rejection, source: source)],
            fanOut: [], throughCycle: false, unresolved: [])
    }

    private func cause(of record: LedgerRecord) -> InvalidationMessage.Cause {
        .init(eventID: record.eventID, entity: record.entity, id: record.id, version: record.version, atMillis: record.atMillis)
    }

    private func contender(_ record: LedgerRecord, withRef: Bool = false) -> ConflictRecord.Contender {
        .init(
            eventID: record.eventID, version: record.version, origin: record.origin, atMillis: record.atMillis,
            entity: withRef ? record.entity : nil, id: withRef ? record.id : nil)
    }
}
