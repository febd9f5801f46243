/// What a cached value was computed from, as named after `DEPS` on a `SET`:
/// an entity instance `Entity#id` with an optional `@version`, or another cached key
/// `service/key` (a bare key means the same service).
public enum Dependency: Hashable, Sendable, CustomStringConvertible {
    case entity(EntityRef, version: UInt64?)
    case key(CacheKeyRef)

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case empty
        case badEntity(String)
        case badVersion(String)

        public var description: String {
            switch self {
            case .empty: return "empty dependency"
            case .badEntity(let text): return "'\(text)' is not Entity#id"
            case .badVersion(let text): return "'\(text)' has a version that is not a whole number"
            }
        }
    }

    /// Parses one `DEPS` argument. `service` is the service that owns the key being set,
    /// used for bare keys.
    public static func parse(_ text: String, service: String) throws(ParseError) -> Dependency {
        guard !text.isEmpty else { throw .empty }
        if let parsed = try parseASCII(text, service: service) { return parsed }
        if text.contains("#") {
            var body = text[...]
            var version: UInt64?
            if let at = text.lastIndex(of: "@") {
                let digits = text[text.index(after: at)...]
                guard let parsed = UInt64(digits) else { throw .badVersion(text) }
                version = parsed
                body = text[..<at]
            }
            // One `@` only, before the version: `Product#p@1@2` names no instance clearly.
            guard let ref = EntityRef(parsing: body), !ref.id.utf8.contains(UInt8(ascii: "@")) else { throw .badEntity(text) }
            return .entity(ref, version: version)
        }
        if let slash = text.firstIndex(of: "/") {
            let owner = text[..<slash]
            let key = text[text.index(after: slash)...]
            if !owner.isEmpty && !key.isEmpty {
                return .key(CacheKeyRef(service: String(owner), key: String(key)))
            }
        }
        return .key(CacheKeyRef(service: service, key: text))
    }

    /// `parse` of ASCII text (nearly every dependency), on its bytes, where a byte is a
    /// character: one pass finds the first `#` and `/` and the last `@`, where searching the
    /// characters took a pass each, many times slower (a rebuild parses every dependency of
    /// every record). Nil for other text, which `parse` reads by characters, where `#` followed
    /// by a combining mark is another character.
    private static func parseASCII(_ text: String, service: String) throws(ParseError) -> Dependency? {
        let bytes = text.utf8
        var hash: String.Index?
        var slash: String.Index?
        var lastAt: String.Index?
        var index = bytes.startIndex
        while index != bytes.endIndex {
            switch bytes[index] {
            case 0x80...: return nil
            case UInt8(ascii: "#") where hash == nil: hash = index
            case UInt8(ascii: "/") where slash == nil: slash = index
            case UInt8(ascii: "@"): lastAt = index
            default: break
            }
            bytes.formIndex(after: &index)
        }
        if let hash {
            var bodyEnd = bytes.endIndex
            var version: UInt64?
            if let lastAt {
                guard let parsed = UInt64(text[bytes.index(after: lastAt)...]) else { throw .badVersion(text) }
                version = parsed
                bodyEnd = lastAt
            }
            // The digits after the last `@` hold no `#`: the first `#` lies before it.
            let idStart = bytes.index(after: hash)
            guard hash != bytes.startIndex, idStart < bodyEnd, !bytes[idStart..<bodyEnd].contains(UInt8(ascii: "@")) else {
                throw .badEntity(text)
            }
            return .entity(EntityRef(entity: String(text[..<hash]), id: String(text[idStart..<bodyEnd])), version: version)
        }
        if let slash, slash != bytes.startIndex, bytes.index(after: slash) != bytes.endIndex {
            return .key(CacheKeyRef(service: String(text[..<slash]), key: String(text[bytes.index(after: slash)...])))
        }
        return .key(CacheKeyRef(service: service, key: text))
    }

    /// The tag a node files a key under, and the bus indexes it by: `Entity#id` or `service/key`.
    public var tag: String {
        switch self {
        case .entity(let ref, _): return ref.description
        case .key(let ref): return ref.description
        }
    }

    public var description: String {
        switch self {
        case .entity(let ref, let version?): return "\(ref)@\(version)"
        case .entity(let ref, nil): return ref.description
        case .key(let ref): return ref.description
        }
    }
}
