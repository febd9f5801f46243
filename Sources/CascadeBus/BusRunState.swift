import CascadeKafka
import Foundation

/// The small shared state between the events loop and shutdown.
// @unchecked Sendable: all state is touched only under `lock`.
final class BusRunState: @unchecked Sendable {
    private let lock = NSLock()
    private var isStopping = false
    private var isBusy = false
    private var eventsConsumer: KafkaConsumer?
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var hasPartitions = false
    private var partitionWaiters: [CheckedContinuation<Void, Never>] = []

    var stopping: Bool { lock.withLock { isStopping } }
    var busy: Bool { lock.withLock { isBusy } }
    var consumer: KafkaConsumer? { lock.withLock { eventsConsumer } }

    func setConsumer(_ consumer: KafkaConsumer) { lock.withLock { eventsConsumer = consumer } }
    func beginStopping() {
        let waiters = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            isStopping = true
            defer { partitionWaiters = [] }
            return partitionWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Marks a batch in hand; false when stopping (the batch is left for the next owner).
    func enter() -> Bool {
        lock.withLock {
            guard !isStopping else { return false }
            isBusy = true
            return true
        }
    }

    func leave() {
        let waiters = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            isBusy = false
            defer { idleWaiters = [] }
            return idleWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// The events consumer was given partitions (or the bus is stopping): wakes the waiters.
    func gotPartitions() {
        let waiters = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            hasPartitions = true
            defer { partitionWaiters = [] }
            return partitionWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func awaitPartitions() async {
        await withCheckedContinuation { continuation in
            let now = lock.withLock { () -> Bool in
                if hasPartitions || isStopping { return true }
                partitionWaiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Returns once no batch is in hand.
    func awaitIdle() async {
        await withCheckedContinuation { continuation in
            let idle = lock.withLock { () -> Bool in
                if !isBusy { return true }
                idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }
}
