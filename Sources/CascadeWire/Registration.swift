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

    public init(service: String, key: String, deps: [String], setAtMillis: Int64, lease: Bool = false) {
        self.service = service
        self.key = key
        self.deps = deps
        self.setAtMillis = setAtMillis
        self.lease = lease
    }

    enum CodingKeys: String, CodingKey {
        case service, key, deps, setAtMillis = "set_at_ms", lease
    }

    public var kafkaKey: String { "\(service)/\(key)" }

    public func encoded() -> [UInt8] { WireJSON.encode(self) }

    public static func decode(_ bytes: [UInt8]) throws -> Registration {
        try WireJSON.decode(Registration.self, bytes)
    }
}
