import NIOConcurrencyHelpers

/// Runs `operation` and returns true once it completes, or false once `timeout` passes first
/// (the operation then goes on, unawaited). For shutdown steps that must not hang on a broker
/// that never answers, without polling a flag.
public func completesWithin(_ timeout: Duration, _ operation: @escaping @Sendable () async -> Void) async -> Bool {
    let answered = NIOLockedValueBox(false)
    // A bridge of two tasks racing: the first to finish resumes it, once.
    return await withCheckedContinuation { continuation in
        @Sendable func answer(_ completed: Bool) {
            let first = answered.withLockedValue { answered -> Bool in
                defer { answered = true }
                return !answered
            }
            if first { continuation.resume(returning: completed) }
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            answer(false)
        }
        Task {
            await operation()
            // Answered before the timer is cancelled: cancelled, its sleep ends at once and it
            // would answer false first.
            answer(true)
            timer.cancel()
        }
    }
}
