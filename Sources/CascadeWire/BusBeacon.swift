/// What a bus instance says about itself on `cascade.buses` ten times a second, keyed by its
/// id: that it is alive, whether its state is rebuilt, and which partitions of the events
/// topics it resolves. Every instance reads every beacon and decides ownership from them
/// (`PartitionOwnership`): an instance not heard from for half a second is taken as gone, and
/// its partitions move at once, whatever the consumer group's session timeout would say.
public struct BusBeacon: Codable, Sendable, Hashable {
    /// Stable across restarts (`cascade bus --instance`), so a restarted instance gets its
    /// own partitions back and nothing else moves.
    public var instance: String
    /// This process's run, to tell a restart from a delayed beacon.
    public var incarnation: String
    /// The index and the ledger are rebuilt: it may own partitions.
    public var ready: Bool
    /// `http://host:port` of its admin API, for `/shards`.
    public var admin: String?
    /// The partitions it resolves now, as `topic:partition`.
    public var owned: [String]
    /// Registrations in its index, for `/shards`.
    public var registrations: Int
    /// When it sent this (ms since 1970, its clock; for display only: liveness is judged by
    /// when a beacon arrives, on the reader's clock).
    public var atMillis: Int64
    /// Partitioned state: the families (by the graph's numbering) some registration it holds
    /// an edge of depends on. The others hand their keys on to it (`HopFilter`).
    public var families: [UInt32]?
    /// Partitioned state: the partitions (`topic:partition`) whose state it holds rebuilt; a
    /// partition moves to it only once listed here.
    public var warm: [String]?

    public init(
        instance: String, incarnation: String, ready: Bool, admin: String?, owned: [String], registrations: Int, atMillis: Int64
    ) {
        self.instance = instance
        self.incarnation = incarnation
        self.ready = ready
        self.admin = admin
        self.owned = owned
        self.registrations = registrations
        self.atMillis = atMillis
    }

    enum CodingKeys: String, CodingKey {
        case instance, incarnation, ready, admin, owned, registrations, families, warm
        case atMillis = "at_ms"
    }

    public func encoded() -> [UInt8] { WireJSON.encode(self) }

    public static func decode(_ bytes: [UInt8]) throws -> BusBeacon {
        try WireJSON.decode(BusBeacon.self, bytes)
    }
}
