import Synchronization

/// Figures the Kafka consumer sets and INFO reads: lock-free so either side never waits.
public final class NodeCounters: Sendable {
    private let appliedOffset = Atomic<Int64>(-1)
    private let consumerLag = Atomic<Int64>(0)
    private let invalidations = Atomic<Int>(0)
    private let removedByInvalidation = Atomic<Int>(0)
    package let connectionIDs = Atomic<Int>(0)
    package let connections = Atomic<Int>(0)
    package let commands = Atomic<Int>(0)
    private let degradedFlag = Atomic<Bool>(false)
    package let degradedReads = Atomic<Int>(0)
    /// SET ... DEPS refused because the registration queue was full.
    package let registrationsRefused = Atomic<Int>(0)
    /// The longest apply delay since the reporter last took it (-1: none).
    private let longestApplyDelay = Atomic<Int64>(-1)

    public init() {}

    /// An invalidation message produced at `producedAtMillis` is applied now.
    public func noteApplied(producedAtMillis: Int64, nowMillis: Int64) {
        let delay = max(0, nowMillis - producedAtMillis)
        var seen = longestApplyDelay.load(ordering: .relaxed)
        while delay > seen {
            let (exchanged, original) = longestApplyDelay.compareExchange(expected: seen, desired: delay, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    /// The longest apply delay noted since the last call, nil when none was.
    public func takeLongestApplyDelay() -> Int64? {
        let delay = longestApplyDelay.exchange(-1, ordering: .relaxed)
        return delay >= 0 ? delay : nil
    }

    /// The offset of the last invalidation message applied (-1 before any).
    public var lastAppliedOffset: Int64 {
        get { appliedOffset.load(ordering: .relaxed) }
        set { appliedOffset.store(newValue, ordering: .relaxed) }
    }

    /// Messages on the topic not applied yet (high watermark minus next offset).
    public var lag: Int64 {
        get { consumerLag.load(ordering: .relaxed) }
        set { consumerLag.store(newValue, ordering: .relaxed) }
    }

    public var invalidationsApplied: Int { invalidations.load(ordering: .relaxed) }
    public var keysInvalidated: Int { removedByInvalidation.load(ordering: .relaxed) }
    public var connectedClients: Int { connections.load(ordering: .relaxed) }

    /// Bounded staleness broke: reads miss until the stream is confirmed current again.
    public internal(set) var degraded: Bool {
        get { degradedFlag.load(ordering: .relaxed) }
        set { degradedFlag.store(newValue, ordering: .relaxed) }
    }

    func recordApplied(keysRemoved: Int) {
        invalidations.wrappingAdd(1, ordering: .relaxed)
        removedByInvalidation.wrappingAdd(keysRemoved, ordering: .relaxed)
    }
}
