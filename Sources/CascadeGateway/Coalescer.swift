import NIOConcurrencyHelpers

/// One upstream fetch per key at a time: callers that miss the same key while a fetch is in
/// flight wait for its result instead of sending their own. Whether a waiter may use that
/// result is the caller's decision (`SharedUse`): the coalescer only shares the wait. The
/// fetch runs in its own task, so a client that goes away does not cancel it for the others.
/// The table holds one entry per key in flight, so it is bounded by the requests in flight
/// (the server's connections).
final class Coalescer<Value: Sendable>: Sendable {
    private struct Flight {
        var task: Task<Value, any Error>
        var joined: Int
    }

    private let inFlight = NIOLockedValueBox<[String: Flight]>([:])

    /// The value, and whether it came from a fetch another caller started.
    func value(for key: String, fetch: @escaping @Sendable () async throws -> Value) async throws -> (value: Value, joined: Bool) {
        let (task, joined) = inFlight.withLockedValue { flights -> (Task<Value, any Error>, Bool) in
            if let running = flights[key] {
                flights[key]?.joined += 1
                return (running.task, true)
            }
            let task = start(key, fetch)
            flights[key] = Flight(task: task, joined: 0)
            return (task, false)
        }
        return (try await task.value, joined)
    }

    /// Starts a fetch unless one is in flight; nobody waits for it (stale-while-revalidate).
    func refresh(_ key: String, fetch: @escaping @Sendable () async throws -> Value) {
        inFlight.withLockedValue { flights in
            guard flights[key] == nil else { return }
            flights[key] = Flight(task: start(key, fetch), joined: 0)
        }
    }

    private func start(_ key: String, _ fetch: @escaping @Sendable () async throws -> Value) -> Task<Value, any Error> {
        Task<Value, any Error> {
            // Leaves the table when done, under the same lock that put it there (so after).
            defer { _ = self.inFlight.withLockedValue { $0.removeValue(forKey: key) } }
            return try await fetch()
        }
    }

    var count: Int { inFlight.withLockedValue { $0.count } }

    /// How many callers wait on the fetch in flight for `key` besides the one that started it.
    func waiting(for key: String) -> Int { inFlight.withLockedValue { $0[key]?.joined ?? 0 } }
}
