import NIOConcurrencyHelpers

/// Counts changes to some state that tasks wait on, so a task can await a condition on that
/// state instead of polling it: the owner calls `changed()` after each change, a waiter
/// checks its condition and sleeps until the count moves past what it saw, or its deadline.
public final class ChangeSignal: Sendable {
    private struct State {
        var changes = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Changes so far; read it before checking a condition, then wait past it.
    public var changes: Int { state.withLockedValue { $0.changes } }

    /// Something changed: every waiter looks again.
    public func changed() {
        let woken = state.withLockedValue { state in
            state.changes += 1
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in woken { waiter.resume() }
    }

    /// Returns once a change after the `seen`-th happened, at `deadline` (if any), or when the
    /// task is cancelled.
    public func awaitChange(after seen: Int, until deadline: ContinuousClock.Instant?) async {
        let id = state.withLockedValue { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timer = deadline.map { deadline in
            Task { [state] in
                try? await Task.sleep(until: deadline)
                state.withLockedValue { $0.waiters.removeValue(forKey: id) }?.resume()
            }
        }
        defer { timer?.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // The change, the deadline or a cancellation may have come before this waiter
                // was registered.
                let waits = state.withLockedValue { state in
                    guard state.changes == seen, Self.before(deadline), !Task.isCancelled else { return false }
                    state.waiters[id] = continuation
                    return true
                }
                if !waits { continuation.resume() }
            }
        } onCancel: { [state] in
            state.withLockedValue { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Waits until `condition` holds, looking again after each change; false at `deadline` (if
    /// any) or once the task is cancelled.
    public func wait(until deadline: ContinuousClock.Instant?, for condition: () -> Bool) async -> Bool {
        while true {
            let seen = changes
            if condition() { return true }
            guard Self.before(deadline), !Task.isCancelled else { return false }
            await awaitChange(after: seen, until: deadline)
        }
    }

    /// Waits until `condition` holds, looking again after each change, with no deadline; false
    /// only once the task is cancelled.
    public func wait(for condition: () -> Bool) async -> Bool {
        await wait(until: nil, for: condition)
    }

    private static func before(_ deadline: ContinuousClock.Instant?) -> Bool {
        deadline.map { ContinuousClock.now < $0 } ?? true
    }
}
