import Atomics

/// Figures the Kafka consumer sets and INFO reads: lock-free so either side never waits.
public final class NodeCounters: Sendable {
    private let appliedOffset = ManagedAtomic<Int64>(-1)
    private let consumerLag = ManagedAtomic<Int64>(0)
    private let invalidations = ManagedAtomic<Int>(0)
    private let removedByInvalidation = ManagedAtomic<Int>(0)
    package let connectionIDs = ManagedAtomic<Int>(0)
    package let connections = ManagedAtomic<Int>(0)
    package let commands = ManagedAtomic<Int>(0)
    private let degradedFlag = ManagedAtomic<Bool>(false)
    package let degradedReads = ManagedAtomic<Int>(0)
    /// SET ... DEPS refused because the registration queue was full.
    package let registrationsRefused = ManagedAtomic<Int>(0)

    public init() {}

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
        invalidations.wrappingIncrement(ordering: .relaxed)
        removedByInvalidation.wrappingIncrement(by: keysRemoved, ordering: .relaxed)
    }
}
