import Foundation

/// The latest version the bus knows of one entity instance, on the compacted `cascade.ledger`.
public struct LedgerRecord: Codable, Sendable, Hashable {
    public var entity: String
    public var id: String
    public var version: UInt64
    public var origin: String
    public var atMillis: Int64
    public var eventID: String
    /// A digest of the event's content, so a second event with the same version can be told
    /// apart from a redelivery of the same one.
    public var digest: UInt64

    public init(entity: String, id: String, version: UInt64, origin: String, atMillis: Int64, eventID: String, digest: UInt64) {
        self.entity = entity
        self.id = id
        self.version = version
        self.origin = origin
        self.atMillis = atMillis
        self.eventID = eventID
        self.digest = digest
    }

    enum CodingKeys: String, CodingKey {
        case entity, id, version, origin, atMillis = "at_ms", eventID = "event_id", digest
    }

    public func encoded() -> [UInt8] { WireJSON.encode(self) }

    public static func decode(_ bytes: [UInt8]) throws -> LedgerRecord {
        try WireJSON.decode(LedgerRecord.self, bytes)
    }
}

/// A decided conflict, on `cascade.conflicts`, for the origin services to reconcile.
public struct ConflictRecord: Codable, Sendable, Hashable {
    public struct Contender: Codable, Sendable, Hashable {
        public var eventID: String
        public var version: UInt64
        public var origin: String
        public var atMillis: Int64
        /// The contender's entity instance when it is not the record's own: a conflict inside
        /// a circular component is between events for different instances. Absent otherwise.
        public var entity: String?
        public var id: String?

        public init(eventID: String, version: UInt64, origin: String, atMillis: Int64, entity: String? = nil, id: String? = nil) {
            self.eventID = eventID
            self.version = version
            self.origin = origin
            self.atMillis = atMillis
            self.entity = entity
            self.id = id
        }

        enum CodingKeys: String, CodingKey {
            case eventID = "event_id", version, origin, atMillis = "at_ms", entity, id
        }
    }

    public var entity: String
    public var id: String
    public var policy: String
    public var winner: Contender
    public var losers: [Contender]
    public var reason: String

    public init(entity: String, id: String, policy: String, winner: Contender, losers: [Contender], reason: String) {
        self.entity = entity
        self.id = id
        self.policy = policy
        self.winner = winner
        self.losers = losers
        self.reason = reason
    }

    public func encoded() -> [UInt8] { WireJSON.encode(self) }

    public static func decode(_ bytes: [UInt8]) throws -> ConflictRecord {
        try WireJSON.decode(ConflictRecord.self, bytes)
    }
}
