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

/// The adaptive TTL of a family that no invalidation covers: a change leaves its cached value
/// stale until the TTL ends, so the TTL must be short against how often values change. The
/// node fingerprints the values of such a family; each time a key is stored again, it sees
/// whether the value changed during the time since it was last stored. For a Poisson change
/// rate λ and intervals of mean length L, the share of unchanged ones is e^(-λL): λ follows.
/// A value cached for a TTL T is then stale for about λT/2 of its reads, so T = 2·target/λ
/// keeps the stale-read share near `staleTarget`. Sums fade with a half-life like the other.
public struct FingerprintTTLLearner: Sendable, Equatable {
    public let minMillis: Int64
    public let maxMillis: Int64
    public let staleTarget: Double
    public let halfLifeMillis: Double
    public private(set) var changed: Double = 0
    public private(set) var unchanged: Double = 0
    public private(set) var intervalMillis: Double = 0

    public init(minMillis: Int64, maxMillis: Int64, staleTarget: Double = 0.01, halfLifeMillis: Double = 1_800_000) {
        self.minMillis = max(1, min(minMillis, maxMillis))
        self.maxMillis = max(1, max(minMillis, maxMillis))
        self.staleTarget = staleTarget
        self.halfLifeMillis = halfLifeMillis
    }

    public mutating func observe(changed newlyChanged: Int, unchanged newlyUnchanged: Int, intervalMillis newInterval: Int, elapsedMillis: Int64) {
        guard elapsedMillis > 0 else { return }
        let fade = Foundation.exp2(-Double(elapsedMillis) / halfLifeMillis)
        changed = changed * fade + Double(max(0, newlyChanged))
        unchanged = unchanged * fade + Double(max(0, newlyUnchanged))
        intervalMillis = intervalMillis * fade + Double(max(0, newInterval))
    }

    /// Changes per value per ms; nil before any observation.
    public var changeRate: Double? {
        let count = changed + unchanged
        guard count >= 1, intervalMillis > 0 else { return nil }
        // Half a pseudo-change keeps the estimate finite when nothing changed yet.
        let share = min(0.999, (changed + 0.5) / (count + 1))
        return -Foundation.log(1 - share) / (intervalMillis / count)
    }

    public var ttlMillis: Int64 {
        guard let rate = changeRate, rate > 0 else { return minMillis }
        let ttl = 2 * staleTarget / rate
        if ttl >= Double(maxMillis) { return maxMillis }
        return max(minMillis, Int64(ttl))
    }
}

