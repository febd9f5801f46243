import CascadeKafka
import NIOConcurrencyHelpers

/// The bus's lifecycle (`BusLifecycle`) under one lock, shared by the events loop, the
/// periodic tasks and shutdown. Waiters are resumed outside the lock.
final class BusRunState: Sendable {
    private typealias Waiter = CheckedContinuation<Void, Never>
    private let lifecycle = NIOLockedValueBox(BusLifecycle<KafkaConsumer, Waiter>())

    var stopping: Bool { lifecycle.withLockedValue { $0.isStopping } }
    var consumer: KafkaConsumer? { lifecycle.withLockedValue { $0.consumer } }

    /// See `BusLifecycle.consumerStarted`.
    func consumerStarted(_ consumer: KafkaConsumer) -> Bool {
        lifecycle.withLockedValue { $0.consumerStarted(consumer) }
    }

    /// True for the first caller only, who then stops the bus.
    func beginStopping() -> Bool {
        let (first, released) = lifecycle.withLockedValue { $0.beginStopping() }
        resume(released)
        return first
    }

    func gotPartitions() { resume(lifecycle.withLockedValue { $0.partitionsAssigned() }) }
    func finishStopping() { resume(lifecycle.withLockedValue { $0.finishStopping() }) }

    /// Marks a batch in hand; false when stopping (the batch is left for the next owner).
    func enter() -> Bool { lifecycle.withLockedValue { $0.enterBatch() } }
    func leave() { resume(lifecycle.withLockedValue { $0.leaveBatch() }) }

    /// Returns once the events consumer owns partitions, or the bus is stopping.
    func awaitPartitions() async { await wait { $0.waitForPartitions($1) } }
    /// Returns once no batch is in hand.
    func awaitIdle() async { await wait { $0.waitForIdle($1) } }
    /// Returns once the bus begins stopping.
    func awaitStopping() async { await wait { $0.waitForStopping($1) } }
    /// Returns once the stop is finished.
    func awaitStopped() async { await wait { $0.waitForStopped($1) } }

    private func wait(_ transition: (inout BusLifecycle<KafkaConsumer, Waiter>, Waiter) -> BusLifecycle<KafkaConsumer, Waiter>.Wait) async {
        await withCheckedContinuation { continuation in
            if lifecycle.withLockedValue({ transition(&$0, continuation) }) == .resumeNow { continuation.resume() }
        }
    }

    private func resume(_ waiters: [Waiter]) {
        for waiter in waiters { waiter.resume() }
    }
}
