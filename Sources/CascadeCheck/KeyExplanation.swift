import CascadeClient
import CascadeWire
import Foundation

/// The answer of `cascade why SERVICE/KEY`: the node's view of the key, the bus's memory of
/// its last invalidations, and a one-line verdict. Its JSON is the command's `--format json`.
public struct KeyExplanation: Codable, Sendable, Equatable {
    public struct Deps: Codable, Sendable, Equatable {
        /// As stored on the node with the value (empty when it is not cached).
        public var node: [KeyMeta.Dependency]
        /// The bus's registration of the key; nil when the bus has none.
        public var bus: [String]?
        /// The bus's ledger version of each entity instance named above.
        public var ledger: [String: UInt64]
    }

    public struct Times: Codable, Sendable, Equatable {
        public var producedMillis: Int64?
        public var consumedMillis: Int64
        public var sentMillis: Int64?
        public var ackedMillis: Int64?
        /// When the node applied it, from the fence it keeps with the cause; nil once forgotten.
        public var appliedMillis: Int64?

        enum CodingKeys: String, CodingKey {
            case producedMillis = "produced_ms", consumedMillis = "consumed_ms", sentMillis = "invalidation_produced_ms"
            case ackedMillis = "invalidation_acked_ms", appliedMillis = "applied_ms"
        }
    }

    public struct Invalidation: Codable, Sendable, Equatable {
        public var cause: BusWhy.Root
        public var path: [BusWhy.Hop]
        public var depth: Int
        public var times: Times
    }

    public struct Fence: Codable, Sendable, Equatable {
        public var atMillis: Int64
        public var cause: String?

        enum CodingKeys: String, CodingKey {
            case cause
            case atMillis = "at_ms"
        }
    }

    public struct Node: Codable, Sendable, Equatable {
        public var address: String
        /// Per partition of the events topic, through which offset it has applied.
        public var applied: [String: Int64]?
        /// Messages on its invalidation topic it has not applied yet.
        public var lag: Int64?
        public var stalenessMillis: Int64?

        public init(address: String, applied: [String: Int64]? = nil, lag: Int64? = nil, stalenessMillis: Int64? = nil) {
            self.address = address
            self.applied = applied
            self.lag = lag
            self.stalenessMillis = stalenessMillis
        }

        enum CodingKeys: String, CodingKey {
            case address, applied, lag
            case stalenessMillis = "staleness_ms"
        }
    }

    public var key: String
    public var service: String
    public var present: Bool
    public var setAtMillis: Int64?
    /// -2: not cached; -1: no expiry.
    public var ttlMillis: Int64
    public var deps: Deps
    /// The node's fences of the key, newest first: when each invalidation was applied there.
    public var fences: [Fence]
    public var node: Node
    public var invalidations: [Invalidation]
    public var deadLetters: [BusWhy.DeadLetter]
    public var verdict: String

    enum CodingKeys: String, CodingKey {
        case key, service, present, deps, fences, node, invalidations, verdict
        case setAtMillis = "set_at_ms", ttlMillis = "ttl_ms", deadLetters = "dead_letters"
    }

    /// Joins what the node, the bus's memories (one per instance) and its ledger say.
    public init(
        service: String, key: String, meta: KeyMeta, buses: [BusWhy], ledger: [String: LedgerRecord], node: Node, limit: Int = 5
    ) {
        self.service = service
        self.key = key
        present = meta.exists
        setAtMillis = meta.setAtMillis
        ttlMillis = meta.ttlMillis
        fences = (meta.keyFence?.all ?? []).map { Fence(atMillis: $0.atMillis, cause: $0.cause) }
        self.node = node
        deps = Deps(
            node: meta.dependencies, bus: buses.lazy.compactMap(\.deps).first,
            ledger: ledger.mapValues(\.version))
        let fences = self.fences
        invalidations = buses.flatMap(\.invalidations)
            .sorted { ($0.cause.consumedMillis, $0.cause.offset) > ($1.cause.consumedMillis, $1.cause.offset) }
            .prefix(limit)
            .map { found in
                Invalidation(
                    cause: found.cause, path: found.path, depth: found.depth,
                    times: Times(
                        producedMillis: found.cause.producedMillis, consumedMillis: found.cause.consumedMillis,
                        sentMillis: found.sentMillis, ackedMillis: found.ackedMillis,
                        // By cause alone: a version names one event, and the node's clock is not the bus's.
                        appliedMillis: fences.first { $0.cause == found.cause.name }?.atMillis))
            }
        var seen = Set<String>()
        deadLetters = buses.flatMap(\.deadLetters).filter { seen.insert("\($0.topic)/\($0.partition)/\($0.offset)").inserted }
        verdict = ""
        verdict = Self.verdict(self)
    }

    /// The `Entity#id` instances the value depends on, as the node and the bus have them.
    public static func entityRefs(meta: KeyMeta, busDeps: [String]?) -> [String] {
        let tags = meta.dependencies.map(\.tag) + (busDeps ?? [])
        return Array(Set(tags.compactMap { EntityRef(parsing: $0)?.description })).sorted()
    }

    /// The one-line answer.
    static func verdict(_ it: KeyExplanation) -> String {
        let behind = (it.node.lag ?? 0) > 0 ? "the node is behind by \(it.node.lag ?? 0) messages" : nil
        guard it.present else {
            if let last = it.invalidations.first { return invalidatedLine(last) }
            if let fence = it.fences.first {
                // A race-check invalidation names the key the value came from, not an event.
                if let cause = fence.cause, EntityRef(parsing: cause.split(separator: "@").first.map(String.init) ?? "") == nil {
                    return "not cached: dropped at \(clock(fence.atMillis)) by the bus's registration race check: its dependency "
                        + "\(cause) may have changed before the value was stored"
                }
                return "not cached: invalidated on the node by \(fence.cause ?? "an invalidation") at \(clock(fence.atMillis)); "
                    + "the bus no longer remembers the path"
            }
            return "not cached, and no invalidation of it is remembered: it expired, was evicted or deleted, or was never set"
        }
        let setAt = it.setAtMillis ?? .min
        // The bus invalidated it after it was stored, yet it is there: the node has not applied it.
        if let pending = it.invalidations.first(where: { $0.cause.consumedMillis >= setAt && $0.times.appliedMillis == nil }) {
            return "still cached: the bus invalidated it by \(pending.cause.name) through \(hops(pending.depth)) at "
                + "\(clock(pending.cause.consumedMillis)) but the node has not applied it"
                + (behind.map { ": \($0)" } ?? "")
        }
        let stale = it.deps.node.compactMap { dep -> (String, UInt64, UInt64)? in
            guard let version = dep.version, let newer = it.deps.ledger[dep.tag], newer > version else { return nil }
            return (dep.tag, version, newer)
        }
        let letters = it.deadLetters.filter { $0.atMillis >= setAt }
        if let letter = letters.first {
            return "still cached: the event for \(letter.key) is in the dead-letter topic (\(letter.reason)), "
                + "from \(letter.topic)[\(letter.partition)]@\(letter.offset)"
        }
        if let (tag, version, newer) = stale.first {
            let why = behind ?? (it.deps.bus == nil
                ? "the bus has no registration for it" : "no invalidation of it is remembered")
            return "stale: cached from \(tag)@\(version) but the bus's ledger has version \(newer); \(why)"
        }
        if let behind { return "still cached; \(behind)" }
        if it.deps.bus == nil {
            return it.deps.node.isEmpty
                ? "no registration reaches it from any changed entity: it was stored without DEPS and the bus has none for it"
                : "no registration reaches it from any changed entity: the bus has no registration for it"
        }
        return "no event has reached it since it was stored"
    }

    static func invalidatedLine(_ invalidation: Invalidation) -> String {
        let times = invalidation.times
        let start = times.producedMillis ?? times.consumedMillis
        var line = "invalidated by \(invalidation.cause.name) through \(hops(invalidation.depth))"
        if let applied = times.appliedMillis {
            line += ", \(max(0, applied - start)) ms after the event"
        } else if let acked = times.ackedMillis {
            line += ", sent \(max(0, acked - start)) ms after the event (the node keeps no time for it)"
        }
        return line
    }

    static func hops(_ depth: Int) -> String { depth == 1 ? "1 hop" : "\(depth) hops" }

    static func clock(_ millis: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(millis) / 1000)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
