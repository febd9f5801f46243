import Foundation

/// What a node says about itself on `cascade.nodes` about once a second, keyed
/// `service/node`: that it is alive, where clients reach it, and how far it has applied its
/// invalidation stream. The bus lists the latest of each on `/nodes`; `cascade publish --wait`
/// and `cascade check` find the nodes there.
public struct NodeReport: Codable, Sendable, Hashable {
    public var service: String
    /// The node process's id (the one its registrations carry).
    public var node: String
    /// `host:port` of its Redis protocol.
    public var address: String
    /// Per partition of the events topic (as text), through which offset everything is applied.
    public var applied: [String: Int64]
    /// How far behind it may be (ms), from the watermarks; nil before the first one.
    public var stalenessMillis: Int64?
    /// Messages on its topic not applied yet.
    public var lag: Int64
    public var degraded: Bool
    /// When the node sent this (ms since 1970, the node's clock).
    public var atMillis: Int64
    /// The longest an invalidation message waited, since the last report, between the bus
    /// producing it and this node applying it (ms); nil when none came (or an older node).
    public var applyDelayMillis: Int64?

    public init(
        service: String, node: String, address: String, applied: [String: Int64], stalenessMillis: Int64?, lag: Int64,
        degraded: Bool, atMillis: Int64, applyDelayMillis: Int64? = nil
    ) {
        self.applyDelayMillis = applyDelayMillis
        self.service = service
        self.node = node
        self.address = address
        self.applied = applied
        self.stalenessMillis = stalenessMillis
        self.lag = lag
        self.degraded = degraded
        self.atMillis = atMillis
    }

    enum CodingKeys: String, CodingKey {
        case service, node, address, applied, lag, degraded
        case stalenessMillis = "staleness_ms", atMillis = "at_ms", applyDelayMillis = "apply_delay_ms"
    }

    public var kafkaKey: String { "\(service)/\(node)" }

    public func encoded() -> [UInt8] { WireJSON.encode(self) }

    public static func decode(_ bytes: [UInt8]) throws -> NodeReport {
        try WireJSON.decode(NodeReport.self, bytes)
    }
}
