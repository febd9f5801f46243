import Foundation

/// Learns how often the values of one family change, from the invalidations the node applies,
/// and turns that into a TTL: the mean time a value lives before an invalidation removes it,
/// within the family's bounds. Rarely changing data lives long, volatile data short (it would
/// be invalidated soon anyway: keeping it longer only costs memory).
///
/// The estimate is exposure over changes: key-milliseconds observed divided by the
/// invalidations seen plus one (so that a family never seen changing gets a TTL that grows
/// with how long it was watched, not an infinite one). Both sums fade with a half-life, so
/// the TTL follows a family whose volatility changes.
public struct AdaptiveTTLLearner: Sendable, Equatable {
    public let minMillis: Int64
    public let maxMillis: Int64
    public let halfLifeMillis: Double
    /// Key-milliseconds observed and invalidations seen, both faded.
    public private(set) var exposure: Double = 0
    public private(set) var changes: Double = 0

    public init(minMillis: Int64, maxMillis: Int64, halfLifeMillis: Double = 300_000) {
        self.minMillis = max(1, min(minMillis, maxMillis))
        self.maxMillis = max(1, max(minMillis, maxMillis))
        self.halfLifeMillis = halfLifeMillis
    }

    /// One window of `elapsedMillis`: `keys` held by the family, `invalidated` of them removed
    /// by invalidations in it.
    public mutating func observe(keys: Int, invalidated: Int, elapsedMillis: Int64) {
        guard elapsedMillis > 0 else { return }
        let fade = Foundation.exp2(-Double(elapsedMillis) / halfLifeMillis)
        // Keys removed in the window were held in it too, even if the gauge no longer shows them.
        exposure = exposure * fade + Double(max(keys, invalidated)) * Double(elapsedMillis)
        changes = changes * fade + Double(max(0, invalidated))
    }

    /// The mean interval between two changes of one value, in ms.
    public var changeIntervalMillis: Double { exposure / (changes + 1) }

    /// The TTL values stored without one get now: the lower bound until something is learned.
    public var ttlMillis: Int64 {
        let interval = changeIntervalMillis
        if interval >= Double(maxMillis) { return maxMillis }
        return max(minMillis, Int64(interval))
    }
}

