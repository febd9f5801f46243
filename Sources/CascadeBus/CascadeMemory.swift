import CascadeGraph
import CascadeWire
import NIOConcurrencyHelpers

/// What the bus remembers of its recent cascades, for `cascade why` (`GET /why`): for each
/// event that reached keys, its root (`Entity#id@version`, event id, source position, W3C
/// trace id), when it happened, and the closure it resolved, which already holds every key it
/// reached with its depth, its parent and the reason of the hop. Nothing is copied per key:
/// the closure's arrays are kept as the pipeline made them, so remembering costs one append
/// per event under one lock, and a key's path is found at query time by walking parents.
///
/// Bounded in bytes (`maxBytes`, the closures' arrays counted at their capacity plus a fixed
/// cost per event): past it, the oldest cascades are forgotten, like a ring. A key's last
/// invalidations are the newest cascades that reached it, as many as the memory still holds;
/// `invalidations(of:limit:)` gives them newest first. Also keeps the last `maxDeadLetters`
/// rejected events by message key, so `why` can say an event never got through.
/// Thread-safe.
public final class CascadeMemory: Sendable {
    /// One event's cascade as remembered.
    struct Cascade {
        var cause: Root
        /// Nil once forgotten (its arrays freed at once).
        var closure: InstanceClosure?
        var times: SpanTimes
        var bytes: Int
    }

    /// The root event of a cascade.
    public struct Root: Sendable, Equatable, Codable {
        public var entity: String
        public var id: String
        public var version: UInt64
        public var eventID: String
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        /// The trace id of the event's `traceparent` header (W3C trace context), when it had one.
        public var traceID: String?
        /// The Kafka timestamp of the event (producer or broker), ms since 1970.
        public var producedMillis: Int64?
        /// When the bus consumed it.
        public var consumedMillis: Int64
        /// `resolve` for a conflict resolution, else `invalidate`.
        public var kind: String

        public init(
            entity: String, id: String, version: UInt64, eventID: String, topic: String, partition: Int32, offset: Int64,
            traceID: String? = nil, producedMillis: Int64? = nil, consumedMillis: Int64, kind: String = "invalidate"
        ) {
            self.entity = entity
            self.id = id
            self.version = version
            self.eventID = eventID
            self.topic = topic
            self.partition = partition
            self.offset = offset
            self.traceID = traceID
            self.producedMillis = producedMillis
            self.consumedMillis = consumedMillis
            self.kind = kind
        }

        enum CodingKeys: String, CodingKey {
            case entity, id, version, topic, partition, offset, kind
            case eventID = "event_id", traceID = "trace_id", producedMillis = "produced_ms", consumedMillis = "consumed_ms"
        }
    }

    /// One hop of a path, from the root towards the key.
    public struct Hop: Sendable, Equatable, Codable {
        /// `service/key`.
        public var key: String
        public var depth: Int
        /// `bound` (a template of the graph), `registered` (a registration the graph declares)
        /// or `undeclared` (a registration it does not).
        public var reason: String
        /// The key's family lies in a circular component: the hop may close a cycle.
        public var cycle: Bool
    }

    /// One remembered invalidation of a key.
    public struct Invalidation: Sendable, Equatable, Codable {
        public var cause: Root
        /// The root first, then every hop to the key.
        public var path: [Hop]
        public var depth: Int
        /// When the batch holding it was handed to the producer, and acknowledged by the brokers.
        public var sentMillis: Int64?
        public var ackedMillis: Int64?

        enum CodingKeys: String, CodingKey {
            case cause, path, depth
            case sentMillis = "sent_ms", ackedMillis = "acked_ms"
        }
    }

    /// An event the bus rejected to the dead-letter topic.
    public struct DeadLetter: Sendable, Equatable, Codable {
        /// The message key (for Cascade's events, `Entity#id`).
        public var key: String
        public var reason: String
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        public var atMillis: Int64

        enum CodingKeys: String, CodingKey {
            case key, reason, topic, partition, offset
            case atMillis = "at_ms"
        }
    }

    private struct State {
        /// Oldest first from `head`; the slots before `head` are free.
        var cascades: [Cascade] = []
        var head = 0
        var bytes = 0
        var deadLetters: [DeadLetter] = []
        var deadLetterNext = 0
    }

    public let maxBytes: Int
    public let maxDeadLetters: Int
    private let state = NIOLockedValueBox(State())

    /// Bytes a remembered cascade costs besides its closure's arrays: the record, its strings
    /// and the array slot, rounded up.
    static let fixedBytesPerCascade = 256

    /// Default bound: 64 MiB, about a million key invalidations of typical names.
    public static let defaultMaxBytes = 64 << 20

    public init(maxBytes: Int = CascadeMemory.defaultMaxBytes, maxDeadLetters: Int = 1024) {
        self.maxBytes = max(0, maxBytes)
        self.maxDeadLetters = max(0, maxDeadLetters)
    }

    /// Bytes held now (at most `maxBytes`).
    public var bytes: Int { state.withLockedValue { $0.bytes } }
    /// Cascades held now.
    public var count: Int { state.withLockedValue { $0.cascades.count - $0.head } }

    /// What one cascade costs in the memory: its closure's arrays at their capacity.
    static func cost(of closure: InstanceClosure) -> Int {
        fixedBytesPerCascade + closure.nameBytes.capacity
            + closure.slots.capacity * MemoryLayout<InstanceClosure.Slot>.stride
    }

    /// Remembers cascades, oldest first; a cascade that reached no key is not kept. Forgets the
    /// oldest until the memory is within its bound again (a cascade larger than the bound is
    /// not kept at all).
    func remember(_ cascades: [Cascade]) {
        guard !cascades.isEmpty else { return }
        state.withLockedValue { state in
            for cascade in cascades where cascade.closure?.slots.isEmpty == false && cascade.bytes <= maxBytes {
                state.cascades.append(cascade)
                state.bytes += cascade.bytes
            }
            while state.bytes > maxBytes, state.head < state.cascades.count {
                state.bytes -= state.cascades[state.head].bytes
                state.cascades[state.head].closure = nil
                state.head += 1
            }
            if state.head > 1024 && state.head * 2 > state.cascades.count {
                state.cascades.removeFirst(state.head)
                state.head = 0
            }
        }
    }

    /// Remembers a span's cascades, oldest first, sharing `times` (the pipeline benchmark).
    public func remember(_ batch: [(root: Root, closure: InstanceClosure)], times: SpanTimes = SpanTimes()) {
        remember(batch.map { Cascade(cause: $0.root, closure: $0.closure, times: times, bytes: Self.cost(of: $0.closure)) })
    }

    /// Remembers one event's cascade (tests, and callers without spans).
    public func remember(_ root: Root, closure: InstanceClosure, times: SpanTimes = SpanTimes()) {
        remember([Cascade(cause: root, closure: closure, times: times, bytes: Self.cost(of: closure))])
    }

    /// Remembers an event rejected to the dead-letter topic (the last `maxDeadLetters`).
    public func rememberDeadLetter(_ letter: DeadLetter) {
        guard maxDeadLetters > 0 else { return }
        state.withLockedValue { state in
            if state.deadLetters.count < maxDeadLetters {
                state.deadLetters.append(letter)
            } else {
                state.deadLetters[state.deadLetterNext] = letter
            }
            state.deadLetterNext = (state.deadLetterNext + 1) % maxDeadLetters
        }
    }

    /// The remembered dead letters whose key is one of `keys`, newest first.
    public func deadLetters(keyedBy keys: Set<String>) -> [DeadLetter] {
        guard !keys.isEmpty else { return [] }
        return state.withLockedValue { state in
            state.deadLetters.filter { keys.contains($0.key) }
        }.sorted { ($0.atMillis, $0.offset) > ($1.atMillis, $1.offset) }
    }

    /// The last `limit` invalidations of `name` (`service/key`) the memory holds, newest first.
    /// Scans the closures' hashes newest first (a million keys take a few ms), comparing
    /// names only where a hash matches; the paths are spelled once found.
    public func invalidations(of name: String, limit: Int = 5) -> [Invalidation] {
        let hash = NameHash.of(name)
        let wanted = Array(name.utf8)
        var found: [(Cascade, Int)] = []
        state.withLockedValue { state in
            var index = state.cascades.count - 1
            while index >= state.head && found.count < limit {
                let cascade = state.cascades[index]
                if let closure = cascade.closure, let slot = Self.find(hash, wanted, in: closure) { found.append((cascade, slot)) }
                index -= 1
            }
        }
        return found.map { cascade, slot in Self.invalidation(cascade, slot: slot) }
    }

    private static func find(_ hash: UInt64, _ name: [UInt8], in closure: InstanceClosure) -> Int? {
        closure.slots.withUnsafeBufferPointer { slots in
            for (index, slot) in slots.enumerated() where slot.hash == hash {
                let start = Int(slot.start)
                if closure.nameBytes[start..<start + Int(slot.length)].elementsEqual(name) { return index }
            }
            return nil
        }
    }

    private static func invalidation(_ cascade: Cascade, slot: Int) -> Invalidation {
        guard let closure = cascade.closure else { return Invalidation(cause: cascade.cause, path: [], depth: 0) }
        var hops: [Hop] = []
        var current = slot
        while current >= 0 {
            let entry = closure.slots[current]
            hops.append(Hop(key: closure.name(current), depth: Int(entry.depth), reason: entry.reason.rawValue, cycle: entry.circular))
            current = Int(entry.parent)
        }
        hops.reverse()
        return Invalidation(
            cause: cascade.cause, path: hops, depth: Int(closure.slots[slot].depth),
            sentMillis: cascade.times.sentMillis, ackedMillis: cascade.times.ackedMillis)
    }

    /// The trace id of a W3C `traceparent` value (`00-<32 hex>-<16 hex>-<2 hex>`), nil when
    /// it is not one (or names the all-zero trace, which the spec calls invalid).
    public static func traceID(traceparent value: [UInt8]) -> String? {
        guard value.count >= 55, value[2] == UInt8(ascii: "-"), value[35] == UInt8(ascii: "-") else { return nil }
        let id = value[3..<35]
        func isHex(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (97...102).contains(byte) }
        guard id.allSatisfy(isHex), id.contains(where: { $0 != UInt8(ascii: "0") }) else { return nil }
        return String(decoding: id, as: UTF8.self)
    }
}

/// When one span's messages were handed to the producer and when the brokers acknowledged
/// all of them; every cascade of the span shares it.
public final class SpanTimes: Sendable {
    private let times = NIOLockedValueBox<(sent: Int64?, acked: Int64?)>((nil, nil))

    public init() {}

    public var sentMillis: Int64? { times.withLockedValue { $0.sent } }
    public var ackedMillis: Int64? { times.withLockedValue { $0.acked } }

    func sent(atMillis: Int64) { times.withLockedValue { $0.sent = $0.sent ?? atMillis } }
    func acked(atMillis: Int64) { times.withLockedValue { $0.acked = $0.acked ?? atMillis } }
}

/// The `SpanTimes` of the spans whose messages are not all acknowledged yet, by partition and
/// last offset (what the commit tracker reports a span by).
final class SpansInFlight: Sendable {
    private struct Key: Hashable {
        var partition: OffsetTracker.PartitionKey
        var lastOffset: Int64
    }

    private let spans = NIOLockedValueBox<[Key: SpanTimes]>([:])
    /// A span never acknowledged (its partition moved away) is dropped with all the others
    /// past this many: only its acknowledgement time is lost.
    static let limit = 65_536

    func sent(_ times: SpanTimes, partition: OffsetTracker.PartitionKey, lastOffset: Int64) {
        spans.withLockedValue { spans in
            if spans.count >= Self.limit { spans.removeAll() }
            spans[Key(partition: partition, lastOffset: lastOffset)] = times
        }
    }

    func acknowledged(_ completed: OffsetTracker.Completed, atMillis: Int64) {
        let key = Key(partition: completed.key, lastOffset: completed.offsets.upperBound)
        spans.withLockedValue { $0.removeValue(forKey: key) }?.acked(atMillis: atMillis)
    }
}
