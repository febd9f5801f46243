import Foundation

/// One cached key's dependencies, published by a node on `cascade.deps` under the Kafka key
/// `service/key`. A tombstone (null value) under the same key says the key is gone.
public struct Registration: Codable, Sendable, Hashable {
    public var service: String
    public var key: String
    /// Dependencies in their `DEPS` text form: `Entity#id[@version]` or `service/key`.
    public var deps: [String]
    /// When the value was stored (ms since 1970), for the bus's race check.
    public var setAtMillis: Int64
    /// True when the registration came with a lease (`LEASE.GET ... DEPS`), before any value.
    public var lease: Bool
    /// The node process that stored the value, and the value's incarnation there; absent in
    /// hand-written registrations. See `RegistrationOwner`.
    public var node: String?
    public var incarnation: UInt64?

    public init(
        service: String, key: String, deps: [String], setAtMillis: Int64, lease: Bool = false,
        owner: RegistrationOwner? = nil
    ) {
        self.service = service
        self.key = key
        self.deps = deps
        self.setAtMillis = setAtMillis
        self.lease = lease
        self.node = owner?.node
        self.incarnation = owner?.incarnation
    }

    enum CodingKeys: String, CodingKey {
        case service, key, deps, setAtMillis = "set_at_ms", lease, node, incarnation = "inc"
    }

    /// Who registered the key, or nil for a registration without one.
    public var owner: RegistrationOwner? {
        guard let node, let incarnation else { return nil }
        return RegistrationOwner(node: node, incarnation: incarnation)
    }

    public var kafkaKey: String { "\(service)/\(key)" }

    /// The dependencies `Dependency.parse` accepts, in order; the others are left out.
    public var parsedDependencies: [Dependency] { deps.compactMap { try? Dependency.parse($0, service: service) } }

    /// Bounds that keep every registration far below Kafka's default message size (1 MB):
    /// a value whose registration could not be published would never be invalidated, so a
    /// node refuses it instead.
    public enum Limits {
        /// Most dependencies one value may name.
        public static let maxDependencies = 1024
        /// Longest dependency, in bytes.
        public static let maxDependencyBytes = 1024
        /// Longest key, in bytes.
        public static let maxKeyBytes = 16 * 1024
        /// All dependencies together, in bytes.
        public static let maxTotalBytes = 128 * 1024
    }

    public func encoded() -> [UInt8] { WireJSON.encode(self) }

    /// Reads a registration. What nodes write (see `plain`) is read without JSONDecoder, which
    /// cost more than indexing the registration when the bus rebuilds from `cascade.deps`;
    /// anything else goes to JSONDecoder, which accepts or rejects it as it always did.
    public static func decode(_ bytes: [UInt8]) throws -> Registration {
        if let registration = plain(bytes) { return registration }
        return try WireJSON.decode(Registration.self, bytes)
    }

    /// The registration in `bytes` when they are plain: ASCII without escapes, one object with
    /// each known field at most once and no other field, every required one present, strings
    /// where strings go, whole numbers (no sign on `inc`, no leading zero, in range). Nil
    /// otherwise, for JSONDecoder to read. Every plain document is valid JSON that JSONDecoder
    /// decodes to the same registration.
    static func plain(_ bytes: [UInt8]) -> Registration? {
        var dependencies: [Range<Int>] = []
        guard let fields = PlainFields.read(bytes, dependencies: &dependencies) else { return nil }
        func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        var registration = Registration(
            service: text(fields.service), key: text(fields.key), deps: dependencies.map(text), setAtMillis: fields.setAtMillis,
            lease: fields.lease)
        registration.node = fields.node.map(text)
        registration.incarnation = fields.incarnation
        return registration
    }

    /// `text` when it is a JSON integer without a leading zero (and, signed, maybe a `-`, but
    /// not `-0`), else nil.
    static func wholeNumber(_ text: String, signed: Bool) -> String? {
        var digits = text.utf8[...]
        if signed, digits.first == UInt8(ascii: "-") { digits = digits.dropFirst() }
        guard let first = digits.first, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        guard first != UInt8(ascii: "0") || (digits.count == 1 && digits.count == text.utf8.count) else { return nil }
        return text
    }
}
