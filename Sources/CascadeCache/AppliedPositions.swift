import CascadeWire
import NIOConcurrencyHelpers

/// How far this node has applied its invalidation stream, per partition of the events topic,
/// from the watermarks the bus sends: what `CASCADE.AFTER` waits on, and how current the node
/// knows itself to be (bounded staleness). Waiters are answered from the consumer's thread as
/// soon as a watermark covers them; the caller hops back to its event loop.
public final class AppliedPositions: Sendable {
    /// One `CASCADE.AFTER` waiting. `answer` is called once: true when applied, false on
    /// timeout (the caller's timer calls `expire`).
    package final class Waiter: Sendable {
        package let partition: Int32
        package let offset: Int64
        let answer: @Sendable (Bool) -> Void

        package init(partition: Int32, offset: Int64, answer: @escaping @Sendable (Bool) -> Void) {
            self.partition = partition
            self.offset = offset
            self.answer = answer
        }
    }

    private struct State {
        var through: [Int32: Int64] = [:]
        var asOf: [Int32: Int64] = [:]
        var waiters: [ObjectIdentifier: Waiter] = [:]
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Applies a watermark read after the invalidations it covers; answers the waiters it
    /// satisfies. Positions never go back (a restarted bus may repeat older ones).
    public func apply(_ watermark: SourceWatermark) {
        let satisfied = state.withLockedValue { state -> [Waiter] in
            state.through[watermark.partition] = max(state.through[watermark.partition] ?? -1, watermark.through)
            state.asOf[watermark.partition] = max(state.asOf[watermark.partition] ?? 0, watermark.atMillis)
            let through = state.through[watermark.partition] ?? -1
            var done: [Waiter] = []
            for (id, waiter) in state.waiters where waiter.partition == watermark.partition && waiter.offset <= through {
                state.waiters[id] = nil
                done.append(waiter)
            }
            return done
        }
        for waiter in satisfied { waiter.answer(true) }
    }

    public func through(_ partition: Int32) -> Int64? {
        state.withLockedValue { $0.through[partition] }
    }

    /// Per partition, through which offset everything is applied.
    public var positions: [Int32: Int64] { state.withLockedValue { $0.through } }

    /// The moment (bus clock) as of which nothing published is missing on any partition the
    /// node has heard of; nil before the first watermark.
    public var currentAsOfMillis: Int64? {
        state.withLockedValue { $0.asOf.values.min() }
    }

    /// Answers at once (true) when already applied, else registers the waiter and returns nil.
    package func wait(_ waiter: Waiter) -> Bool? {
        state.withLockedValue { state -> Bool? in
            if let through = state.through[waiter.partition], through >= waiter.offset { return true }
            state.waiters[ObjectIdentifier(waiter)] = waiter
            return nil
        }
    }

    /// The waiter's time is up: answers it false unless a watermark answered it first.
    package func expire(_ waiter: Waiter) {
        let removed = state.withLockedValue { $0.waiters.removeValue(forKey: ObjectIdentifier(waiter)) }
        removed?.answer(false)
    }
}
