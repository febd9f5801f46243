import CRdKafka
import Foundation
import NIOConcurrencyHelpers

/// A dedicated thread that blocks in librdkafka's queue polls, so no Swift cooperative thread
/// ever waits on the C library. `body` is called until it returns false or `stop()` is called.
/// Started once per client and kept for its life (see `ThreadStartGuardTests`).
final class PollThread: Sendable {
    private struct State {
        var stopping = false
        var finished = false
        var joiners: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    init(name: String, _ body: @escaping @Sendable (PollThread) -> Bool) {
        let thread = Thread { [self] in
            while !self.shouldStop, body(self) {}
            let joiners = state.withLockedValue { state in
                state.finished = true
                defer { state.joiners = [] }
                return state.joiners
            }
            for joiner in joiners { joiner.resume() }
        }
        thread.name = name
        thread.start()
    }

    var shouldStop: Bool { state.withLockedValue { $0.stopping } }

    /// Asks the loop to end; `wake` should make a blocked poll return early.
    func stop(wake: () -> Void = {}) {
        state.withLockedValue { $0.stopping = true }
        wake()
    }

    /// Returns once the thread has left its loop, without blocking a thread meanwhile.
    func join() async {
        // A bridge: the thread itself resumes it once, as it leaves its loop.
        await withCheckedContinuation { continuation in
            let finished = state.withLockedValue { state -> Bool in
                if !state.finished { state.joiners.append(continuation) }
                return state.finished
            }
            if finished { continuation.resume() }
        }
    }
}
