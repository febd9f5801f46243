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
        if containsHash(text) {
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

    /// Whether `text` holds a `#` character. ASCII text (every registration of the example
    /// graph) is answered from its bytes: there a `#` byte is a `#` character. Other text goes
    /// through the character comparison as before, where `#` followed by a combining mark is
    /// another character.
    private static func containsHash(_ text: String) -> Bool {
        var hash = false
        for byte in text.utf8 {
            if byte >= 0x80 { return text.contains("#") }
            if byte == UInt8(ascii: "#") { hash = true }
        }
        return hash
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
