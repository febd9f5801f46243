import Foundation

/// What a node publishes on `cascade.refresh.<service>` (Kafka key: the cache key) when an
/// invalidation removes one of its hottest keys: the owning service may recompute the value
/// before readers miss it.
public struct RefreshHint: Codable, Sendable, Hashable {
    public struct Cause: Codable, Sendable, Hashable {
        public var entity: String
        public var id: String
        public var version: UInt64
        public var eventID: String

        public init(entity: String, id: String, version: UInt64, eventID: String) {
            self.entity = entity
            self.id = id
            self.version = version
            self.eventID = eventID
        }

        enum CodingKeys: String, CodingKey {
            case entity, id, version, eventID = "event_id"
        }
    }

    public var key: String
    /// The key's family, or nil when no template of the node's graph fits it.
    public var family: String?
    /// Estimated recent reads of the key.
    public var hits: Int
    public var cause: Cause

    public init(key: String, family: String?, hits: Int, cause: Cause) {
        self.key = key
        self.family = family
        self.hits = hits
        self.cause = cause
    }

    public func encoded() -> [UInt8] { WireJSON.encode(self) }

    public static func decode(_ bytes: [UInt8]) throws -> RefreshHint {
        try WireJSON.decode(RefreshHint.self, bytes)
    }
}
