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

    public static func decode(_ bytes: [UInt8]) throws -> Registration {
        try WireJSON.decode(Registration.self, bytes)
    }
}
