/// What a `KafkaProducer` knows between its callers and its poll thread: whether it is open,
/// which `send` calls await a report, and who waits for room in librdkafka's queue. It only
/// decides; the producer acts on what each call returns, outside its lock (resuming a
/// continuation, joining the thread).
struct ProducerStateMachine<Thread, ReportWaiter, SpaceWaiter> {
    enum Lifecycle {
        /// Made, its poll thread not yet handed over.
        case starting
        case running(Thread)
        /// Flushed and stopping its thread; new messages are refused.
        case closing
        case closed
    }

    private(set) var lifecycle = Lifecycle.starting
    private var nextToken: UInt64 = Self.sendTokenBit
    private var waiting: [UInt64: ReportWaiter] = [:]
    private var spaceWaiters: [SpaceWaiter] = []
    /// Counts delivery batches. A caller that found the queue full notes it first: if a batch
    /// was handled since, room may have come and gone unseen, so it retries instead of waiting
    /// for a report that may never come.
    private(set) var deliveryBatches: UInt64 = 0

    /// Tokens with this bit set belong to `send`; callers' tokens must leave it clear.
    static var sendTokenBit: UInt64 { 1 << 63 }

    mutating func started(_ thread: Thread) {
        guard case .starting = lifecycle else { preconditionFailure("a producer starts once") }
        lifecycle = .running(thread)
    }

    var isOpen: Bool {
        switch lifecycle {
        case .starting, .running: true
        case .closing, .closed: false
        }
    }

    /// A token for one `send`, whose report will resume `waiter`; nil once closing.
    mutating func awaitReport(_ waiter: ReportWaiter) -> UInt64? {
        guard isOpen else { return nil }
        let token = nextToken
        nextToken = (nextToken &+ 1) | Self.sendTokenBit
        waiting[token] = waiter
        return token
    }

    /// The waiter of a `send` whose message never reached the queue.
    mutating func abandon(_ token: UInt64) -> ReportWaiter? {
        waiting.removeValue(forKey: token)
    }

    enum SpaceAction {
        /// Retry now: room may already be there, or the producer is closing.
        case retry
        case wait
    }

    /// A caller found the queue full after `seenBatches` delivery batches.
    mutating func waitForSpace(_ waiter: SpaceWaiter, seenBatches: UInt64) -> SpaceAction {
        guard isOpen, deliveryBatches == seenBatches else { return .retry }
        spaceWaiters.append(waiter)
        return .wait
    }

    /// A batch of reports was handled: the waiters of these `send` reports, each with its
    /// report, and everyone waiting for room, are to be resumed.
    mutating func delivered<Report>(_ sendReports: [(token: UInt64, report: Report)]) -> (reports: [(ReportWaiter, Report)], space: [SpaceWaiter]) {
        deliveryBatches &+= 1
        var reports: [(ReportWaiter, Report)] = []
        for (token, report) in sendReports {
            if let waiter = waiting.removeValue(forKey: token) { reports.append((waiter, report)) }
        }
        defer { spaceWaiters = [] }
        return (reports, spaceWaiters)
    }

    /// Starts closing: the thread to stop, to the first caller only (nil for any later one).
    mutating func beginClosing() -> Thread? {
        switch lifecycle {
        case .running(let thread):
            lifecycle = .closing
            return thread
        case .starting:
            lifecycle = .closing
            return nil
        case .closing, .closed:
            return nil
        }
    }

    /// Closed, with the thread stopped: everyone still waiting is to be failed or woken.
    mutating func close() -> (reports: [ReportWaiter], space: [SpaceWaiter]) {
        lifecycle = .closed
        defer { waiting = [:]; spaceWaiters = [] }
        return (Array(waiting.values), spaceWaiters)
    }
}

extension ProducerStateMachine: Sendable where Thread: Sendable, ReportWaiter: Sendable, SpaceWaiter: Sendable {}
extension ProducerStateMachine.Lifecycle: Sendable where Thread: Sendable {}
