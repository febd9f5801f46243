import CascadeGraph
import CascadeWire
import NIOConcurrencyHelpers

/// What the bus remembers of its recent cascades, for `cascade why` (`GET /why`): for each
/// event that reached keys, its root (`Entity#id@version`, event id, source position, W3C
/// trace id), when it happened, and every key the closure reached with its depth, the key it
/// was reached from and the reason of the hop. A key's path is found at query time by walking
/// those parents back to the root.
///
/// The keys are copied, a span at a time under one lock, into one byte ring of `maxBytes`
/// allocated once (hash, parent, depth, reason and name per key: about 20 bytes plus the
/// name), so remembering allocates nothing and keeps no closure alive: the pipeline's arrays
/// are freed and reused as before. Past the bound the oldest cascades are overwritten. A key's
/// last invalidations are the newest cascades that reached it, as many as the ring still
/// holds; `invalidations(of:limit:)` gives them newest first. Also keeps the last
/// `maxDeadLetters` rejected events by message key, so `why` can say an event never got
/// through. Thread-safe.
public final class CascadeMemory: Sendable {
    /// One event's cascade on its way to the memory (the span holds it until it is sent).
    struct Cascade {
        var cause: Root
        var closure: InstanceClosure
        var times: SpanTimes
    }

    /// A remembered cascade: its root, and where its keys lie in the ring.
    private struct Entry {
        var cause: Root
        var times: SpanTimes
        /// Absolute positions in the ring (they only grow; the ring index is modulo its size).
        var start: Int
        var end: Int
        var keys: Int
    }

    /// The parts of `GET /why`'s answer (CascadeWire's `BusWhy`) that the memory keeps.
    public typealias Root = BusWhy.Root
    public typealias Hop = BusWhy.Hop
    public typealias Invalidation = BusWhy.Invalidation
    public typealias DeadLetter = BusWhy.DeadLetter

    private struct State {
        /// Oldest first from `first`; the entries before it are forgotten.
        var entries: [Entry] = []
        var first = 0
        var ring: [UInt8]
        /// The absolute position the next key is written at.
        var head = 0
        var deadLetters: [DeadLetter] = []
        var deadLetterNext = 0
    }

    public let maxBytes: Int
    public let maxDeadLetters: Int
    private let state: NIOLockedValueBox<State>

    /// Bytes a remembered cascade costs besides its keys in the ring: the entry and its
    /// strings, counted against the bound.
    static let fixedBytesPerCascade = 256
    /// Bytes per key in the ring besides its name: hash 8, parent 4, depth 4, reason 1, name length 4.
    static let bytesPerKey = 21

    /// Default bound: 64 MiB, about two million key invalidations of typical names.
    public static let defaultMaxBytes = 64 << 20

    public init(maxBytes: Int = CascadeMemory.defaultMaxBytes, maxDeadLetters: Int = 1024) {
        self.maxBytes = max(0, maxBytes)
        self.maxDeadLetters = max(0, maxDeadLetters)
        // The ring is allocated with the first cascade: a processor that never remembers
        // (tests, tools) costs nothing. The entries' share of the bound is taken from it.
        state = NIOLockedValueBox(State(ring: []))
    }

    /// Bytes held now (at most `maxBytes`): the ring's live part and the entries.
    public var bytes: Int {
        state.withLockedValue { state in
            guard state.first < state.entries.count else { return 0 }
            return state.head - state.entries[state.first].start + (state.entries.count - state.first) * Self.fixedBytesPerCascade
        }
    }

    /// Cascades held now.
    public var count: Int { state.withLockedValue { $0.entries.count - $0.first } }

    /// What one cascade costs in the memory.
    static func cost(of closure: InstanceClosure) -> Int {
        fixedBytesPerCascade + closure.slots.count * bytesPerKey + closure.nameBytes.count
    }

    /// Remembers cascades, oldest first; a cascade that reached no key is not kept, nor one
    /// larger than the whole bound. Forgets the oldest until everything fits.
    func remember(_ cascades: [Cascade]) {
        guard !cascades.isEmpty, maxBytes > 0 else { return }
        state.withLockedValue { state in
            if state.ring.isEmpty { state.ring = [UInt8](repeating: 0, count: maxBytes) }
            for cascade in cascades where !cascade.closure.slots.isEmpty && Self.cost(of: cascade.closure) <= maxBytes {
                append(cascade, to: &state)
            }
            if state.first > 1024 && state.first * 2 > state.entries.count {
                state.entries.removeFirst(state.first)
                state.first = 0
            }
        }
    }

    private func append(_ cascade: Cascade, to state: inout State) {
        let closure = cascade.closure
        let size = closure.slots.count * Self.bytesPerKey + closure.nameBytes.count
        let capacity = state.ring.count
        // A record never wraps: one that would is written from the ring's start.
        if state.head % capacity + size > capacity { state.head += capacity - state.head % capacity }
        let start = state.head
        let end = start + size
        // Forget what the record overwrites, and the oldest until the entries' share fits too.
        while state.first < state.entries.count {
            let oldest = state.entries[state.first]
            let entriesBytes = (state.entries.count - state.first + 1) * Self.fixedBytesPerCascade
            guard oldest.start < end - capacity + entriesBytes else { break }
            state.first += 1
        }
        state.ring.withUnsafeMutableBytes { ring in
            closure.nameBytes.withUnsafeBytes { names in
                var at = start % capacity
                for slot in closure.slots {
                    ring.storeBytes(of: slot.hash, toByteOffset: at, as: UInt64.self)
                    ring.storeBytes(of: slot.parent, toByteOffset: at + 8, as: Int32.self)
                    ring.storeBytes(of: slot.depth, toByteOffset: at + 12, as: Int32.self)
                    ring.storeBytes(of: Self.code(slot.reason) | (slot.circular ? 0x80 : 0), toByteOffset: at + 16, as: UInt8.self)
                    ring.storeBytes(of: slot.length, toByteOffset: at + 17, as: Int32.self)
                    let length = Int(slot.length)
                    if length > 0, let base = ring.baseAddress, let from = names.baseAddress {
                        (base + at + Self.bytesPerKey).copyMemory(from: from + Int(slot.start), byteCount: length)
                    }
                    at += Self.bytesPerKey + length
                }
            }
        }
        state.head = end
        state.entries.append(Entry(cause: cascade.cause, times: cascade.times, start: start, end: end, keys: closure.slots.count))
    }

    private static func code(_ reason: InstanceClosure.Entry.Reason) -> UInt8 {
        switch reason {
        case .registered: 0
        case .undeclared: 1
        case .bound: 2
        }
    }

    private static func reason(_ code: UInt8) -> String {
        switch code & 0x7F {
        case 0: InstanceClosure.Entry.Reason.registered.rawValue
        case 1: InstanceClosure.Entry.Reason.undeclared.rawValue
        default: InstanceClosure.Entry.Reason.bound.rawValue
        }
    }

    /// Remembers a span's cascades, oldest first, sharing `times` (the pipeline benchmark).
    public func remember(_ batch: [(root: Root, closure: InstanceClosure)], times: SpanTimes = SpanTimes()) {
        remember(batch.map { Cascade(cause: $0.root, closure: $0.closure, times: times) })
    }

    /// Remembers one event's cascade (tests, and callers without spans).
    public func remember(_ root: Root, closure: InstanceClosure, times: SpanTimes = SpanTimes()) {
        remember([Cascade(cause: root, closure: closure, times: times)])
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
    /// Scans the ring's hashes newest first (a million keys take a few ms), comparing names
    /// only where a hash matches; the paths are spelled once found.
    public func invalidations(of name: String, limit: Int = 5) -> [Invalidation] {
        let hash = NameHash.of(name)
        let wanted = Array(name.utf8)
        return state.withLockedValue { state in
            var found: [Invalidation] = []
            let capacity = state.ring.count
            state.ring.withUnsafeBytes { ring in
                var index = state.entries.count - 1
                while index >= state.first && found.count < limit {
                    let entry = state.entries[index]
                    index -= 1
                    var at = entry.start % capacity
                    var match: Int?
                    for slot in 0..<entry.keys {
                        let length = Int(ring.loadUnaligned(fromByteOffset: at + 17, as: Int32.self))
                        if ring.loadUnaligned(fromByteOffset: at, as: UInt64.self) == hash, length == wanted.count,
                           wanted.withUnsafeBytes({ $0.elementsEqual(UnsafeRawBufferPointer(rebasing: ring[at + Self.bytesPerKey ..< at + Self.bytesPerKey + length])) }) {
                            match = slot
                            break
                        }
                        at += Self.bytesPerKey + length
                    }
                    guard let match else { continue }
                    // Each key's offset in the record, for walking parents back from the key.
                    var offsets: [Int] = []
                    offsets.reserveCapacity(match + 1)
                    at = entry.start % capacity
                    for _ in 0...match {
                        offsets.append(at)
                        at += Self.bytesPerKey + Int(ring.loadUnaligned(fromByteOffset: at + 17, as: Int32.self))
                    }
                    found.append(Self.invalidation(entry, slot: match, offsets: offsets, ring: ring))
                }
            }
            return found
        }
    }

    private static func invalidation(_ entry: Entry, slot: Int, offsets: [Int], ring: UnsafeRawBufferPointer) -> Invalidation {
        var hops: [Hop] = []
        var current = slot
        while current >= 0 && current < offsets.count {
            let at = offsets[current]
            let length = Int(ring.loadUnaligned(fromByteOffset: at + 17, as: Int32.self))
            let flags = ring.loadUnaligned(fromByteOffset: at + 16, as: UInt8.self)
            hops.append(Hop(
                key: String(decoding: UnsafeRawBufferPointer(rebasing: ring[at + bytesPerKey ..< at + bytesPerKey + length]), as: UTF8.self),
                depth: Int(ring.loadUnaligned(fromByteOffset: at + 12, as: Int32.self)), reason: reason(flags), cycle: flags & 0x80 != 0))
            let parent = Int(ring.loadUnaligned(fromByteOffset: at + 8, as: Int32.self))
            // Parents come before their children in breadth-first order; anything else ends the walk.
            guard parent < current else { break }
            current = parent
        }
        hops.reverse()
        return Invalidation(
            cause: entry.cause, path: hops, depth: hops.last?.depth ?? 0, sentMillis: entry.times.sentMillis, ackedMillis: entry.times.ackedMillis)
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
