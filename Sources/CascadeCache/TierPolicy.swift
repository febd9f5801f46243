import CascadeGraph

/// What a graph tier sets on a node (the table in docs/node.md): the order in which tiers
/// lose keys under `--max-memory` pressure, the share of the budget each may hold before it
/// goes first, and the bounds of an adaptive TTL that declares none.
public struct TierPolicy: Sendable, Hashable {
    /// 0 is evicted first.
    public var evictionRank: Int
    /// Share of the memory budget, relative to the other tiers present on the node.
    public var memoryShare: Double
    public var minTTLMillis: Int64
    public var maxTTLMillis: Int64

    public static func of(_ tier: Tier) -> TierPolicy {
        switch tier {
        case .critical: TierPolicy(evictionRank: 3, memoryShare: 0.40, minTTLMillis: 60_000, maxTTLMillis: 86_400_000)
        case .standard: TierPolicy(evictionRank: 2, memoryShare: 0.30, minTTLMillis: 30_000, maxTTLMillis: 21_600_000)
        case .background: TierPolicy(evictionRank: 1, memoryShare: 0.20, minTTLMillis: 10_000, maxTTLMillis: 3_600_000)
        case .archive: TierPolicy(evictionRank: 0, memoryShare: 0.10, minTTLMillis: 300_000, maxTTLMillis: 604_800_000)
        }
    }
}
