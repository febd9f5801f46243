import NIOConcurrencyHelpers

/// One upstream fetch per key at a time: callers that miss the same key while a fetch is in
/// flight wait for its result instead of sending their own. The fetch runs in its own task,
/// so a client that goes away does not cancel it for the others. The table holds one entry
/// per key in flight, so it is bounded by the requests in flight (the server's connections).
final class Coalescer<Value: Sendable>: Sendable {
    private let inFlight = NIOLockedValueBox<[String: Task<Value, any Error>]>([:])

    /// The value, and whether it came from a fetch another caller started.
    func value(for key: String, fetch: @escaping @Sendable () async throws -> Value) async throws -> (value: Value, joined: Bool) {
        let (task, joined) = inFlight.withLockedValue { tasks -> (Task<Value, any Error>, Bool) in
            if let running = tasks[key] { return (running, true) }
            let task = Task<Value, any Error> {
                // Leaves the table when done, under the same lock that put it there (so after).
                defer { _ = self.inFlight.withLockedValue { $0.removeValue(forKey: key) } }
                return try await fetch()
            }
            tasks[key] = task
            return (task, false)
        }
        return (try await task.value, joined)
    }

    /// Starts a fetch unless one is in flight; nobody waits for it (stale-while-revalidate).
    func refresh(_ key: String, fetch: @escaping @Sendable () async throws -> Value) {
        inFlight.withLockedValue { tasks in
            guard tasks[key] == nil else { return }
            tasks[key] = Task<Value, any Error> {
                defer { _ = self.inFlight.withLockedValue { $0.removeValue(forKey: key) } }
                return try await fetch()
            }
        }
    }

    var count: Int { inFlight.withLockedValue { $0.count } }
}
