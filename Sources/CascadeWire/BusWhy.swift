import Foundation

/// What `GET /why` answers (the bus's side of `cascade why`).
public struct BusWhy: Codable, Sendable, Equatable {
    public struct Root: Codable, Sendable, Equatable {
        public var entity: String
        public var id: String
        public var version: UInt64
        public var eventID: String
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        public var traceID: String?
        public var producedMillis: Int64?
        public var consumedMillis: Int64
        public var kind: String

        /// `Entity#id@version`, as the node's fences name their causes.
        public var name: String { "\(entity)#\(id)@\(version)" }

        enum CodingKeys: String, CodingKey {
            case entity, id, version, topic, partition, offset, kind
            case eventID = "event_id", traceID = "trace_id", producedMillis = "produced_ms", consumedMillis = "consumed_ms"
        }
    }

    public struct Hop: Codable, Sendable, Equatable {
        public var key: String
        public var depth: Int
        public var reason: String
        public var cycle: Bool
    }

    public struct Invalidation: Codable, Sendable, Equatable {
        public var cause: Root
        public var path: [Hop]
        public var depth: Int
        public var sentMillis: Int64?
        public var ackedMillis: Int64?

        enum CodingKeys: String, CodingKey {
            case cause, path, depth
            case sentMillis = "sent_ms", ackedMillis = "acked_ms"
        }
    }

    public struct DeadLetter: Codable, Sendable, Equatable {
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

    public var key: String
    public var service: String
    public var deps: [String]?
    public var invalidations: [Invalidation]
    public var deadLetters: [DeadLetter]

    enum CodingKeys: String, CodingKey {
        case key, service, deps, invalidations
        case deadLetters = "dead_letters"
    }
}
