import Foundation

/// What `GET /why` answers, the bus's side of `cascade why`: what the bus knows about one key,
/// its registration in the index, its last invalidations that the memory of cascades holds,
/// newest first, and the events for its entities that went to the dead-letter topic. The bus
/// encodes it (`CascadeMemory` keeps its parts), `cascade why` decodes it.
public struct BusWhy: Codable, Sendable, Equatable {
    /// The root event of a cascade.
    public struct Root: Codable, Sendable, Equatable {
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

        /// `Entity#id@version`, as the node's fences name their causes.
        public var name: String { "\(entity)#\(id)@\(version)" }

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
    public struct Hop: Codable, Sendable, Equatable {
        /// `service/key`.
        public var key: String
        public var depth: Int
        /// `bound` (a template of the graph), `registered` (a registration the graph declares)
        /// or `undeclared` (a registration it does not).
        public var reason: String
        /// The key's family lies in a circular component: the hop may close a cycle.
        public var cycle: Bool

        public init(key: String, depth: Int, reason: String, cycle: Bool) {
            self.key = key
            self.depth = depth
            self.reason = reason
            self.cycle = cycle
        }
    }

    /// One remembered invalidation of a key.
    public struct Invalidation: Codable, Sendable, Equatable {
        public var cause: Root
        /// The root first, then every hop to the key.
        public var path: [Hop]
        public var depth: Int
        /// When the batch holding it was handed to the producer, and acknowledged by the brokers.
        public var sentMillis: Int64?
        public var ackedMillis: Int64?

        public init(cause: Root, path: [Hop], depth: Int, sentMillis: Int64? = nil, ackedMillis: Int64? = nil) {
            self.cause = cause
            self.path = path
            self.depth = depth
            self.sentMillis = sentMillis
            self.ackedMillis = ackedMillis
        }

        enum CodingKeys: String, CodingKey {
            case cause, path, depth
            case sentMillis = "sent_ms", ackedMillis = "acked_ms"
        }
    }

    /// An event the bus rejected to the dead-letter topic.
    public struct DeadLetter: Codable, Sendable, Equatable {
        /// The message key (for Cascade's events, `Entity#id`).
        public var key: String
        public var reason: String
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        public var atMillis: Int64

        public init(key: String, reason: String, topic: String, partition: Int32, offset: Int64, atMillis: Int64) {
            self.key = key
            self.reason = reason
            self.topic = topic
            self.partition = partition
            self.offset = offset
            self.atMillis = atMillis
        }

        enum CodingKeys: String, CodingKey {
            case key, reason, topic, partition, offset
            case atMillis = "at_ms"
        }
    }

    /// How full the bus's memory of cascades is.
    public struct Memory: Codable, Sendable, Equatable {
        public var cascades: Int
        public var bytes: Int
        public var maxBytes: Int

        public init(cascades: Int, bytes: Int, maxBytes: Int) {
            self.cascades = cascades
            self.bytes = bytes
            self.maxBytes = maxBytes
        }

        enum CodingKeys: String, CodingKey {
            case cascades, bytes
            case maxBytes = "max_bytes"
        }
    }

    public var key: String
    public var service: String
    /// Nil when the index has no registration for the key.
    public var deps: [String]?
    public var invalidations: [Invalidation]
    public var deadLetters: [DeadLetter]
    /// Nil from a bus that does not say.
    public var memory: Memory?

    public init(
        key: String, service: String, deps: [String]?, invalidations: [Invalidation], deadLetters: [DeadLetter], memory: Memory? = nil
    ) {
        self.key = key
        self.service = service
        self.deps = deps
        self.invalidations = invalidations
        self.deadLetters = deadLetters
        self.memory = memory
    }

    enum CodingKeys: String, CodingKey {
        case key, service, deps, invalidations, memory
        case deadLetters = "dead_letters"
    }
}
