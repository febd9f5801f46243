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
        try plain(bytes) ?? WireJSON.decode(LedgerRecord.self, bytes)
    }

    /// The record when it is plain: ASCII without escapes, one object with each of the seven
    /// fields once and no other, strings and whole numbers where they go; what the bus writes.
    /// Read without JSONDecoder, which cost more than merging the record when a partition's
    /// ledger is rebuilt; nil otherwise, for JSONDecoder to read (and reject) as it always did.
    private static func plain(_ bytes: [UInt8]) -> LedgerRecord? {
        let notPlain = JSONScanner.notPlain
        var entity, id, origin, eventID: Range<Int>?
        var version, digest: UInt64?
        var atMillis: Int64?
        func string(_ field: inout Range<Int>?, _ scanner: inout JSONScanner) throws(JSONScanner.Failure) {
            guard field == nil, let range = try scanner.readPlainString() else { throw notPlain }
            field = range
        }
        func number(_ scanner: inout JSONScanner, signed: Bool) throws(JSONScanner.Failure) -> String {
            guard case .number(let text) = try scanner.readValue(depth: 1), let whole = Registration.wholeNumber(text, signed: signed)
            else { throw notPlain }
            return whole
        }
        let isPlain = JSONScanner.readPlainObject(bytes) { name, scanner throws(JSONScanner.Failure) in
            switch name {
            case "entity": try string(&entity, &scanner)
            case "id": try string(&id, &scanner)
            case "origin": try string(&origin, &scanner)
            case "event_id": try string(&eventID, &scanner)
            case "version" where version == nil:
                guard let value = UInt64(try number(&scanner, signed: false)) else { throw notPlain }
                version = value
            case "digest" where digest == nil:
                guard let value = UInt64(try number(&scanner, signed: false)) else { throw notPlain }
                digest = value
            case "at_ms" where atMillis == nil:
                guard let value = Int64(try number(&scanner, signed: true)) else { throw notPlain }
                atMillis = value
            default: throw notPlain
            }
        }
        func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        guard isPlain, let entity, let id, let origin, let eventID, let version, let atMillis, let digest else { return nil }
        return LedgerRecord(
            entity: text(entity), id: text(id), version: version, origin: text(origin), atMillis: atMillis, eventID: text(eventID),
            digest: digest)
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
