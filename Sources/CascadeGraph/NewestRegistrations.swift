import CascadeWire
import NIOConcurrencyHelpers

/// The newest `set_at_ms` that each key's edge records carried as they landed here lately.
///
/// A standby promoted to owner produces again the records of the registrations its owner may not
/// have produced (those since the owner's last commit of how far it routed). So a key's older
/// registration can land after a newer one. Judged then, against a ledger that has moved on, it
/// would count as stale and drop the key's current value, which came with the newer one. Such a
/// record is superseded and is not judged. A record with the same `set_at_ms` is judged again:
/// that value is still the current one.
///
/// The same memory tells a hop which keys were stored again since its root event: a key the
/// root invalidated early, then stored again before the hop reached one of its dependencies,
/// must go again (`IndexShare.closure(of:)`).
///
/// Bounded by time: records produced again land within a failover of the originals.
public final class NewestRegistrations: Sendable {
    private struct State {
        /// By key: the newest `set_at_ms`, and when a record of the key last landed.
        var newest: [UInt64: (setAtMillis: Int64, landedAtMillis: Int64)] = [:]
        /// Each record noted and when, oldest first; `head` is the first not forgotten.
        var landed: [(name: UInt64, atMillis: Int64)] = []
        var head = 0
    }

    private let state = NIOLockedValueBox(State())
    let horizonMillis: Int64

    public init(horizonMillis: Int64 = 60_000) {
        self.horizonMillis = horizonMillis
    }

    /// Notes a record of `key` set at `setAtMillis`; true when a newer one of the key landed first.
    public func isSuperseded(_ key: String, setAtMillis: Int64, nowMillis: Int64) -> Bool {
        let name = StableNameHash.of(key)
        return state.withLockedValue { state in
            Self.forget(before: nowMillis - horizonMillis, in: &state)
            if let newest = state.newest[name], newest.setAtMillis > setAtMillis { return true }
            state.newest[name] = (setAtMillis, nowMillis)
            state.landed.append((name, nowMillis))
            return false
        }
    }

    public var count: Int { state.withLockedValue { $0.newest.count } }

    /// Of `names` (`StableNameHash`es), those whose newest record was set at or after `millis`.
    public func storedSince<Names: Sequence<UInt64>>(_ millis: Int64, among names: Names) -> Set<UInt64> {
        state.withLockedValue { state in
            Set(names.filter { (state.newest[$0]?.setAtMillis ?? .min) >= millis })
        }
    }

    private static func forget(before millis: Int64, in state: inout State) {
        while state.head < state.landed.count, state.landed[state.head].atMillis < millis {
            let (name, atMillis) = state.landed[state.head]
            // A key noted again since stays: its later entry forgets it.
            if let newest = state.newest[name], newest.landedAtMillis <= atMillis { state.newest[name] = nil }
            state.head += 1
        }
        if state.head > 4096, state.head * 2 > state.landed.count {
            state.landed.removeFirst(state.head)
            state.head = 0
        }
    }
}
