import CascadeRESP

/// What a node's Redis-protocol front is told beyond the cache behind it (`cascade node`'s
/// `--requirepass`, `--maxclients`, `--proto-max-bulk-len`, `--client-query-buffer-limit`):
/// who may connect, how many at once, and how large a command may be.
public struct RESPSettings: Sendable {
    public var requirePass: String?
    public var maxConnections: Int
    public var limits: RESPLimits

    public init(requirePass: String? = nil, maxConnections: Int = 10_000, limits: RESPLimits = RESPLimits()) {
        self.requirePass = requirePass
        self.maxConnections = maxConnections
        self.limits = limits
    }
}
