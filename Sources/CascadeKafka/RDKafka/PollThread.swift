import CRdKafka
import Foundation
import Synchronization

/// A dedicated thread that blocks in librdkafka's queue polls, so no Swift cooperative thread
/// ever waits on the C library. `body` is called until it returns false or `stop()` is called.
final class PollThread: Sendable {
    private let stopped = Atomic(false)
    private let finished = DispatchSemaphore(value: 0)

    init(name: String, _ body: @escaping @Sendable (PollThread) -> Bool) {
        let thread = Thread { [finished] in
            while !self.shouldStop, body(self) {}
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    var shouldStop: Bool { stopped.load(ordering: .acquiring) }

    /// Asks the loop to end; `wake` should make a blocked poll return early.
    func stop(wake: () -> Void = {}) {
        stopped.store(true, ordering: .releasing)
        wake()
    }

    /// Waits for the thread to leave its loop.
    func join() {
        finished.wait()
    }
}

/// Runs a blocking C call on a fresh thread and resumes the caller when it returns.
func runBlocking<T: Sendable>(_ name: String, _ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.name = name
        thread.start()
    }
}

/// A raw C handle that may cross threads.
// @unchecked Sendable: librdkafka handles are thread-safe.
struct RDHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}
