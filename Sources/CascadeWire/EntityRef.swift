/// One entity instance, written `Entity#id` on the wire and as a Kafka key.
public struct EntityRef: Hashable, Sendable, CustomStringConvertible {
    public var entity: String
    public var id: String

    public init(entity: String, id: String) {
        self.entity = entity
        self.id = id
    }

    /// Parses `Entity#id`; nil when either side is empty or the `#` is missing.
    public init?(parsing text: Substring) {
        guard let hash = text.firstIndex(of: "#") else { return nil }
        let entity = text[..<hash]
        let id = text[text.index(after: hash)...]
        guard !entity.isEmpty, !id.isEmpty else { return nil }
        self.init(entity: String(entity), id: String(id))
    }

    public init?(parsing text: String) {
        self.init(parsing: text[...])
    }

    public var description: String { "\(entity)#\(id)" }
}

/// A cached key of one service, written `service/key`.
public struct CacheKeyRef: Hashable, Sendable, CustomStringConvertible {
    public var service: String
    public var key: String

    public init(service: String, key: String) {
        self.service = service
        self.key = key
    }

    /// Parses `service/key`, split at the first `/`; nil when either side is empty or the `/`
    /// is missing.
    public init?(parsing text: String) {
        guard let slash = text.firstIndex(of: "/"), slash != text.startIndex, text.index(after: slash) != text.endIndex else { return nil }
        self.init(service: String(text[..<slash]), key: String(text[text.index(after: slash)...]))
    }

    public var description: String { "\(service)/\(key)" }
}
