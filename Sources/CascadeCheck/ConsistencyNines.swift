import Foundation

/// Consistency in nines over the last hour, as `cascade check --watch` exports it
/// (`cascade_consistency_nines`): `-log10(violations / checked)` over the checks of the last
/// 60 minutes (one-minute buckets, so "the last hour" moves a minute at a time), capped at
/// `cap` (9). With no violation in the hour, whatever was checked, it is the cap: nothing
/// wrong was seen. 1 violation in 1,000 checks is 3 nines; every check a violation is 0.
public struct ConsistencyNines: Sendable {
    public static let cap = 9.0
    public static let bucketMillis: Int64 = 60_000
    public static let buckets = 60

    private struct Bucket: Sendable {
        var minute: Int64 = -1
        var checked = 0
        var violations = 0
    }

    private var ring = [Bucket](repeating: Bucket(), count: ConsistencyNines.buckets)

    public init() {}

    /// The nines of `violations` among `checked`.
    public static func nines(checked: Int, violations: Int) -> Double {
        guard violations > 0, checked > 0 else { return cap }
        let ratio = min(1, Double(violations) / Double(checked))
        return min(cap, max(0, -log10(ratio)))
    }

    public mutating func record(checked: Int, violations: Int, atMillis: Int64) {
        let minute = atMillis / Self.bucketMillis
        let index = Int(minute % Int64(Self.buckets))
        if ring[index].minute != minute { ring[index] = Bucket(minute: minute) }
        ring[index].checked += checked
        ring[index].violations += violations
    }

    /// Checks and violations of the hour before `atMillis` (this minute and the 59 before).
    public func lastHour(atMillis: Int64) -> (checked: Int, violations: Int) {
        let minute = atMillis / Self.bucketMillis
        var total = (checked: 0, violations: 0)
        for bucket in ring where bucket.minute >= 0 && bucket.minute > minute - Int64(Self.buckets) && bucket.minute <= minute {
            total.checked += bucket.checked
            total.violations += bucket.violations
        }
        return total
    }

    public func nines(atMillis: Int64) -> Double {
        let total = lastHour(atMillis: atMillis)
        return Self.nines(checked: total.checked, violations: total.violations)
    }
}
