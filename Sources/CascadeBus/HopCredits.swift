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
///
/// A returned credit is one more message of the span of the hop it belongs to, sent once the
/// span's own messages are delivered: the hop's offset is committed only once its credit is on
/// its way back. A hop consumed again after a crash returns the same pieces (`HopCredit.piece`),
/// which count once.
final class HopCredits: Sendable {
    static let whole: UInt64 = 1 << 60

    private struct Outstanding {
        var sequence: UInt64
        var owed: UInt64
        var pieces: Set<UInt64> = []
    }

    /// Credit to send back as the last messages of span `sequence`: its own messages came first,
    /// so the credit's producer tokens take the positions from `position` on.
    struct Due: Sendable, Equatable {
        var sequence: UInt64
        var position: Int
        var credits: [HopCredit]
    }

    /// A span's own messages still to be delivered before it sends its credit back.
    private struct Returning {
        var undelivered: Int
        var due: Due
    }

    private struct State {
        /// By (partition, offset, ticket) of an event: its span's sequence and the credit still out.
        var outstanding: [HopCredit.Origin: Outstanding] = [:]
        /// By span sequence: how many of its events still have credit out.
        var spans: [UInt64: Int] = [:]
        /// By span sequence: the credit this instance returns once that span's messages are delivered.
        var toReturn: [UInt64: Returning] = [:]
    }

    private let state = NIOLockedValueBox(State())

    /// A span was handed to the producer as `sequence` with `messages` messages of its own,
    /// with events whose hops carry credit, and hops consumed whose credit it returns once its
    /// messages are delivered. Returns the credit to send now, when it has no message to wait for.
    func began(sequence: UInt64, messages: Int, owed origins: [HopCredit.Origin], returns: [HopCredit]) -> Due? {
        guard !origins.isEmpty || !returns.isEmpty else { return nil }
        return state.withLockedValue { state in
            for origin in origins { state.outstanding[origin] = Outstanding(sequence: sequence, owed: Self.whole) }
            if !origins.isEmpty { state.spans[sequence] = origins.count }
            guard !returns.isEmpty else { return nil }
            let due = Due(sequence: sequence, position: messages, credits: returns)
            guard messages > 0 else { return due }
            state.toReturn[sequence] = Returning(undelivered: messages, due: due)
            return nil
        }
    }

    /// A message of span `sequence` was delivered: the credit to send back, once it was its last.
    func delivered(sequence: UInt64) -> Due? {
        state.withLockedValue { state in
            guard var returning = state.toReturn[sequence] else { return nil }
            returning.undelivered -= 1
            guard returning.undelivered <= 0 else {
                state.toReturn[sequence] = returning
                return nil
            }
            state.toReturn[sequence] = nil
            return returning.due
        }
    }

    /// Credit came back; returns the span's sequence when it was the last its span waited for.
    func returned(_ credit: HopCredit) -> UInt64? {
        state.withLockedValue { state in
            guard var entry = state.outstanding[credit.origin], entry.pieces.insert(credit.piece).inserted else { return nil }
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
