import Foundation

/// What the bus sends a service on `cascade.inval.<service>`: the keys and tags to drop
/// because of one root event, and the fences nodes must keep so that nothing older than
/// the cause can be cached again.
public struct InvalidationMessage: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable {
        /// A cascade from an ordinary event.
        case invalidate
        /// A conflict was decided; drop what the losers touched and fence at the winner.
        case resolve
    }

    public struct Cause: Codable, Sendable, Hashable {
        public var eventID: String
        public var entity: String
        public var id: String
        public var version: UInt64
        /// When the event happened at its origin (ms since 1970), for apply-latency metrics.
        public var atMillis: Int64
        /// The W3C traceparent the node's apply continues (the bus's span of the event, or the
        /// event's own when the bus records none); absent when the event carried no trace.
        /// Optional and omitted when nil, so messages without it read as before.
        public var traceparent: String?

        public init(eventID: String, entity: String, id: String, version: UInt64, atMillis: Int64, traceparent: String? = nil) {
            self.eventID = eventID
            self.entity = entity
            self.id = id
            self.version = version
            self.atMillis = atMillis
            self.traceparent = traceparent
        }

        enum CodingKeys: String, CodingKey {
            case eventID = "event_id", entity, id, version, atMillis = "at_ms", traceparent
        }
    }

    /// A key to drop, with how far from the root event it sits.
    public struct Target: Codable, Sendable, Hashable {
        public var key: String
        public var depth: Int

        public init(key: String, depth: Int) {
            self.key = key
            self.depth = depth
        }
    }

    /// An entity instance whose values below `version` must never be stored again.
    public struct Fence: Codable, Sendable, Hashable {
        public var ref: String
        public var version: UInt64

        public init(ref: String, version: UInt64) {
            self.ref = ref
            self.version = version
        }
    }

    public var kind: Kind
    public var cause: Cause
    public var keys: [Target]
    /// Tags (`Entity#id` or `service/key`): every key carrying one is dropped too.
    public var tags: [String]
    public var fences: [Fence]

    public init(kind: Kind, cause: Cause, keys: [Target], tags: [String], fences: [Fence]) {
        self.kind = kind
        self.cause = cause
        self.keys = keys
        self.tags = tags
        self.fences = fences
    }

    public func encoded() -> [UInt8] { WireJSON.encode(self) }

    public static func decode(_ bytes: [UInt8]) throws -> InvalidationMessage {
        try WireJSON.decode(InvalidationMessage.self, bytes)
    }
}
