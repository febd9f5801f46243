/// Where the bus's rebuild of its index and ledger is, and who waits for its end, as one
/// value: `StateFollower` applies it under its lock and resumes the waiters each transition
/// returns outside it.
struct RebuildState<Waiter> {
    enum Phase: Sendable {
        /// Asking where the state topics end; `attempts` failed so far, the last with `error`.
        case findingEnds(attempts: Int, error: String?)
        /// Reading up to those ends.
        case rebuilding(CatchUp)
        case ready
    }

    private(set) var phase = Phase.findingEnds(attempts: 0, error: nil)
    /// Stopping: nobody waits for readiness any more, and no more attempts are made.
    private(set) var stopping = false
    private var waiters: [Waiter] = []

    var isReady: Bool {
        if case .ready = phase { true } else { false }
    }

    /// Caught up with every end taken at start (the follower then marks the state ready once
    /// what it read is applied).
    var isCaughtUp: Bool {
        if case .rebuilding(let catchUp) = phase { catchUp.isCaughtUp } else { false }
    }

    /// The partitions still behind, to ask how far they were trimmed; nil unless rebuilding.
    var pending: [CatchUp.Key]? {
        if case .rebuilding(let catchUp) = phase { catchUp.pending } else { nil }
    }

    var catchUp: CatchUp? {
        if case .rebuilding(let catchUp) = phase { catchUp } else { nil }
    }

    mutating func endsUnknown(_ error: String) {
        guard case .findingEnds(let attempts, _) = phase else { return }
        phase = .findingEnds(attempts: attempts + 1, error: error)
    }

    mutating func endsFound(_ catchUp: CatchUp) {
        guard case .findingEnds = phase else { return }
        phase = .rebuilding(catchUp)
    }

    /// Applies `change` to the catch-up while rebuilding (nothing to track otherwise).
    mutating func track(_ change: (inout CatchUp) -> Void) {
        guard case .rebuilding(var catchUp) = phase else { return }
        change(&catchUp)
        phase = .rebuilding(catchUp)
    }

    /// The state is rebuilt: releases the waiters.
    mutating func markReady() -> [Waiter] {
        phase = .ready
        return Self.take(&waiters)
    }

    /// Releases the waiters without the state being ready.
    mutating func stop() -> [Waiter] {
        stopping = true
        return Self.take(&waiters)
    }

    enum Wait { case waiting, resumeNow }

    mutating func waitForReady(_ waiter: Waiter) -> Wait {
        if isReady || stopping { return .resumeNow }
        waiters.append(waiter)
        return .waiting
    }

    /// What `/readyz` says while not ready.
    var summary: String {
        switch phase {
        case .findingEnds(0, _): "asking where the state topics end"
        case .findingEnds(let attempts, let error): "asking where the state topics end (\(attempts) attempts failed, the last: \(error ?? "?"))"
        case .rebuilding(let catchUp): catchUp.summary
        case .ready: "ready"
        }
    }

    private static func take(_ waiters: inout [Waiter]) -> [Waiter] {
        defer { waiters = [] }
        return waiters
    }
}

extension RebuildState: Sendable where Waiter: Sendable {}
