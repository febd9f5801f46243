import CascadeWire
import NIOConcurrencyHelpers

/// Partitioned state: when everything an event's hops caused, in every instance they reached,
/// is acknowledged. Each event whose cascade goes on as hops gives them credit (`HopCredit`,
/// 2⁶⁰ split among them); an instance that consumes a hop keeps a part for itself and splits
/// the rest among the hops it hands on, and returns its part to the event's partition once its
/// own invalidations are acknowledged. An event's credit is whole again only when all of it
/// came back: only then does its span count as acknowledged (`OffsetTracker`), so its offset
/// is committed, and the watermarks and `CASCADE.AFTER` that follow the acknowledged offsets
/// cover the hops too. Credit comes back on the event's own partition of the hops topic, which
/// the event's owner reads; a ticket per attempt keeps an earlier owner's returns apart.
final class HopCredits: Sendable {
    static let whole: UInt64 = 1 << 60

    private struct Outstanding {
        var sequence: UInt64
        var owed: UInt64
    }

    private struct State {
        /// By (partition, offset, ticket) of an event: its span's sequence and the credit still out.
        var outstanding: [HopCredit.Origin: Outstanding] = [:]
        /// By span sequence: how many of its events still have credit out.
        var spans: [UInt64: Int] = [:]
        /// By span sequence: the credit this instance returns once that span is acknowledged.
        var toReturn: [UInt64: [HopCredit]] = [:]
    }

    private let state = NIOLockedValueBox(State())

    /// A span was handed to the producer as `sequence`, with events whose hops carry credit,
    /// and hops consumed whose credit it returns once acknowledged.
    func began(sequence: UInt64, owed origins: [HopCredit.Origin], returns: [HopCredit]) {
        guard !origins.isEmpty || !returns.isEmpty else { return }
        state.withLockedValue { state in
            for origin in origins { state.outstanding[origin] = Outstanding(sequence: sequence, owed: Self.whole) }
            if !origins.isEmpty { state.spans[sequence] = origins.count }
            if !returns.isEmpty { state.toReturn[sequence] = returns }
        }
    }

    /// The credit to return now that span `sequence` is acknowledged.
    func acknowledged(sequence: UInt64) -> [HopCredit] {
        state.withLockedValue { $0.toReturn.removeValue(forKey: sequence) ?? [] }
    }

    /// Credit came back; returns the span's sequence when it was the last its span waited for.
    func returned(_ credit: HopCredit) -> UInt64? {
        state.withLockedValue { state in
            guard var entry = state.outstanding[credit.origin] else { return nil }
            entry.owed -= min(entry.owed, credit.credit)
            guard entry.owed == 0 else {
                state.outstanding[credit.origin] = entry
                return nil
            }
            state.outstanding[credit.origin] = nil
            let left = (state.spans[entry.sequence] ?? 1) - 1
            state.spans[entry.sequence] = left > 0 ? left : nil
            return left > 0 ? nil : entry.sequence
        }
    }

    /// Forgets what is owed to partitions given up (their next owner sends the events again).
    func forget(partitions: Set<Int32>) {
        state.withLockedValue { state in
            for (origin, _) in state.outstanding where partitions.contains(origin.partition) {
                let entry = state.outstanding.removeValue(forKey: origin)
                if let sequence = entry?.sequence { state.spans[sequence] = nil }
            }
        }
    }

    /// Splits `credit` into `parts` parts that add up to it (the first takes the remainder).
    static func split(_ credit: UInt64, into parts: Int) -> [UInt64] {
        guard parts > 0 else { return [] }
        let share = credit / UInt64(parts)
        var shares = [UInt64](repeating: share, count: parts)
        shares[0] += credit - share * UInt64(parts)
        return shares
    }
}
