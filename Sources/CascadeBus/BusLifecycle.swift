/// The bus's lifecycle as one value: where it is, whether a batch is in hand, and who waits
/// for what. Each transition only decides and returns the waiters it releases; `BusRunState`
/// applies it under its lock and resumes them outside it.
struct BusLifecycle<Consumer, Waiter> {
    enum Phase {
        /// Rebuilding state; no events consumer yet.
        case starting
        case consuming(Consumer)
        /// Finishing the batch in hand, then acknowledging, committing and leaving the group.
        case stopping(Consumer?)
        case stopped
    }

    private(set) var phase = Phase.starting
    private var batchInHand = false
    private var hasPartitions = false
    private var partitionWaiters: [Waiter] = []
    private var idleWaiters: [Waiter] = []
    private var stoppingWaiters: [Waiter] = []
    private var stoppedWaiters: [Waiter] = []

    var isStopping: Bool {
        switch phase {
        case .starting, .consuming: false
        case .stopping, .stopped: true
        }
    }

    var consumer: Consumer? {
        switch phase {
        case .consuming(let consumer): consumer
        case .stopping(let consumer): consumer
        case .starting, .stopped: nil
        }
    }

    /// The events consumer is made. False when the bus began stopping first: the caller shuts
    /// it down and does not consume.
    mutating func consumerStarted(_ consumer: Consumer) -> Bool {
        switch phase {
        case .starting:
            phase = .consuming(consumer)
            return true
        case .stopping(nil), .stopped:
            return false
        case .consuming, .stopping:
            preconditionFailure("the events consumer starts once")
        }
    }

    /// Stopping begins. `first` is false for any later call, which has nothing to do. Those
    /// waiting for partitions need not wait any more; those waiting for this are released.
    mutating func beginStopping() -> (first: Bool, released: [Waiter]) {
        switch phase {
        case .starting: phase = .stopping(nil)
        case .consuming(let consumer): phase = .stopping(consumer)
        case .stopping, .stopped: return (false, [])
        }
        return (true, Self.take(&partitionWaiters) + Self.take(&stoppingWaiters))
    }

    /// The events consumer was given partitions.
    mutating func partitionsAssigned() -> [Waiter] {
        hasPartitions = true
        return Self.take(&partitionWaiters)
    }

    /// A batch is taken in hand; false when stopping (it is left for the next owner).
    mutating func enterBatch() -> Bool {
        guard case .consuming = phase else { return false }
        batchInHand = true
        return true
    }

    /// The batch in hand is done.
    mutating func leaveBatch() -> [Waiter] {
        batchInHand = false
        return Self.take(&idleWaiters)
    }

    /// Everything is acknowledged, committed and closed; those waiting for this are released.
    mutating func finishStopping() -> [Waiter] {
        phase = .stopped
        return Self.take(&stoppedWaiters)
    }

    enum Wait {
        case resumeNow
        case suspended
    }

    /// Waits until the events consumer owns partitions, or the bus is stopping.
    mutating func waitForPartitions(_ waiter: Waiter) -> Wait {
        if hasPartitions || isStopping { return .resumeNow }
        partitionWaiters.append(waiter)
        return .suspended
    }

    /// Waits until no batch is in hand.
    mutating func waitForIdle(_ waiter: Waiter) -> Wait {
        if !batchInHand { return .resumeNow }
        idleWaiters.append(waiter)
        return .suspended
    }

    /// Waits until the bus begins stopping.
    mutating func waitForStopping(_ waiter: Waiter) -> Wait {
        if isStopping { return .resumeNow }
        stoppingWaiters.append(waiter)
        return .suspended
    }

    /// Waits until the stop is finished.
    mutating func waitForStopped(_ waiter: Waiter) -> Wait {
        if case .stopped = phase { return .resumeNow }
        stoppedWaiters.append(waiter)
        return .suspended
    }

    private static func take(_ waiters: inout [Waiter]) -> [Waiter] {
        defer { waiters = [] }
        return waiters
    }
}

extension BusLifecycle: Sendable where Consumer: Sendable, Waiter: Sendable {}
extension BusLifecycle.Phase: Sendable where Consumer: Sendable {}
