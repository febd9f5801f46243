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
        guard let hash = firstIndex(of: UInt8(ascii: "#"), in: text) else { return nil }
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
        guard let slash = firstIndex(of: UInt8(ascii: "/"), in: text[...]), slash != text.startIndex, text.index(after: slash) != text.endIndex
        else { return nil }
        self.init(service: String(text[..<slash]), key: String(text[text.index(after: slash)...]))
    }

    public var description: String { "\(service)/\(key)" }
}

/// The first `character` (ASCII) in `text`: found among the bytes when the text is ASCII, where a
/// byte is a character, many times faster than comparing characters; by characters otherwise,
/// where the byte followed by a combining mark is another character.
func firstIndex(of character: UInt8, in text: Substring) -> String.Index? {
    var found: String.Index?
    var index = text.utf8.startIndex
    while index != text.utf8.endIndex {
        let byte = text.utf8[index]
        if byte >= 0x80 { return text.firstIndex(of: Character(Unicode.Scalar(character))) }
        if byte == character, found == nil { found = index }
        text.utf8.formIndex(after: &index)
    }
    return found
}
