import CascadeRESP

/// What `CASCADE.META key` says about one key (docs/node.md).
public struct KeyMeta: Sendable, Equatable {
    public struct Dependency: Sendable, Equatable, Codable {
        /// As given after DEPS.
        public var dep: String
        /// `Entity#id` or `service/key`.
        public var tag: String
        /// The version the value was computed from, when the DEPS named one.
        public var version: UInt64?
        /// The node's fence for that entity instance: the newest version an invalidation raised it to.
        public var fence: UInt64?

        public init(dep: String, tag: String, version: UInt64? = nil, fence: UInt64? = nil) {
            self.dep = dep
            self.tag = tag
            self.version = version
            self.fence = fence
        }
    }

    public struct KeyFence: Sendable, Equatable {
        public var atMillis: Int64
        public var cause: String?
        /// The fences before it the node still keeps, newest first.
        public var earlier: [KeyFence]

        public init(atMillis: Int64, cause: String? = nil, earlier: [KeyFence] = []) {
            self.atMillis = atMillis
            self.cause = cause
            self.earlier = earlier
        }

        /// This fence and the earlier ones, newest first.
        public var all: [KeyFence] { [KeyFence(atMillis: atMillis, cause: cause)] + earlier }
    }

    public var key: [UInt8]
    public var exists: Bool
    public var setAtMillis: Int64?
    public var ttlMillis: Int64
    public var dependencies: [Dependency]
    public var keyFence: KeyFence?

    public init(key: [UInt8], exists: Bool = true, setAtMillis: Int64?, ttlMillis: Int64 = -1, dependencies: [Dependency], keyFence: KeyFence? = nil) {
        self.key = key
        self.exists = exists
        self.setAtMillis = setAtMillis
        self.ttlMillis = ttlMillis
        self.dependencies = dependencies
        self.keyFence = keyFence
    }

    public init(key: String, setAtMillis: Int64?, dependencies: [Dependency], keyFence: KeyFence? = nil) {
        self.init(key: Array(key.utf8), setAtMillis: setAtMillis, dependencies: dependencies, keyFence: keyFence)
    }

    /// The key for people; bytes that are not UTF-8 show as replacement characters.
    public var name: String { String(decoding: key, as: UTF8.self) }

    /// Reads a `CASCADE.META` reply (RESP3 map or RESP2 flat array of pairs).
    public init(key: [UInt8], reply: RESPValue) throws(RESPDecodeError) {
        if case .error(let message) = reply { throw RESPDecodeError(description: "CASCADE.META answered: \(message)") }
        guard let fields = reply.pairs else { throw RESPDecodeError(description: "CASCADE.META reply is not a map") }
        self.init(key: key, exists: false, setAtMillis: nil, ttlMillis: -2, dependencies: [])
        for (field, value) in fields {
            switch field {
            case "exists": exists = value.integer == 1
            case "set_at_ms": setAtMillis = value.integer
            case "ttl_ms": ttlMillis = value.integer ?? -2
            case "deps":
                guard case .array(let items) = value else { continue }
                dependencies = items.compactMap(KeyMeta.dependency)
            case "key_fence":
                keyFence = KeyMeta.fence(value)
            default: continue
            }
        }
    }

    private static func fence(_ reply: RESPValue) -> KeyFence? {
        guard let pairs = reply.pairs else { return nil }
        let fields = Dictionary(pairs, uniquingKeysWith: { first, _ in first })
        guard let at = fields["at_ms"]?.integer else { return nil }
        var earlier: [KeyFence] = []
        if case .array(let items)? = fields["earlier"] { earlier = items.compactMap(fence) }
        return KeyFence(atMillis: Int64(at), cause: fields["cause"]?.text, earlier: earlier)
    }

    private static func dependency(_ reply: RESPValue) -> Dependency? {
        guard let pairs = reply.pairs else { return nil }
        let fields = Dictionary(pairs, uniquingKeysWith: { first, _ in first })
        guard let dep = fields["dep"]?.text, let tag = fields["tag"]?.text else { return nil }
        return Dependency(
            dep: dep, tag: tag,
            version: fields["version"]?.integer.flatMap { UInt64(exactly: $0) },
            fence: fields["fence"]?.integer.flatMap { UInt64(exactly: $0) })
    }
}
