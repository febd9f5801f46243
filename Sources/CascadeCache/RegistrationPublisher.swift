import CascadeStore
import CascadeWire
import NIOConcurrencyHelpers

/// Where a node sends what its keys depend on (`cascade.deps`). The Kafka-backed one lives
/// with the Kafka wiring; calls come from event-loop threads and must not block.
public protocol RegistrationPublisher: Sendable {
    /// A key was stored with dependencies (SET/LEASE.SET ... DEPS, or LEASE.GET ... DEPS).
    func publish(_ registration: Registration)
    /// Registered values that are gone (deleted, expired, evicted, invalidated), in one batch;
    /// each tombstone names the node and incarnation of the registration it ends.
    func publishTombstones(service: String, node: String, tombstones: [Tombstone])
    /// Hot keys an invalidation removed, on `cascade.refresh.<service>`.
    func publishRefreshHints(service: String, hints: [RefreshHint])
    /// Claims room for a registration of about `bytes` before its value is stored: false when
    /// the queue is at its bound, and the command must be refused rather than answer OK.
    func reserve(bytes: Int) -> Bool
    /// Gives back a claim whose value was not stored.
    func release(bytes: Int)
    /// Publishes a registration that claimed `reserved` bytes with `reserve`.
    func publish(_ registration: Registration, reserved: Int)
    /// Bytes waiting to be sent or claimed, for INFO.
    var queuedBytes: Int { get }
}

/// Publishers with no queue of their own have room for everything.
extension RegistrationPublisher {
    public func publishRefreshHints(service: String, hints: [RefreshHint]) {}
    public func reserve(bytes: Int) -> Bool { true }
    public func release(bytes: Int) {}
    public func publish(_ registration: Registration, reserved: Int) { publish(registration) }
    public var queuedBytes: Int { 0 }
}

/// For a node run without Kafka.
public struct NoRegistrationPublisher: RegistrationPublisher {
    public init() {}
    public func publish(_ registration: Registration) {}
    public func publishTombstones(service: String, node: String, tombstones: [Tombstone]) {}
}

/// Keeps what was published, for tests.
public final class InMemoryRegistrationPublisher: RegistrationPublisher {
    private let state = NIOLockedValueBox<(registrations: [Registration], tombstones: [Tombstone], hints: [RefreshHint])>(([], [], []))

    public init() {}

    public func publish(_ registration: Registration) {
        state.withLockedValue { $0.registrations.append(registration) }
    }

    public func publishTombstones(service: String, node: String, tombstones: [Tombstone]) {
        state.withLockedValue { $0.tombstones.append(contentsOf: tombstones) }
    }

    public func publishRefreshHints(service: String, hints: [RefreshHint]) {
        state.withLockedValue { $0.hints.append(contentsOf: hints) }
    }

    public var refreshHints: [RefreshHint] { state.withLockedValue { $0.hints } }
    public var registrations: [Registration] { state.withLockedValue { $0.registrations } }
    public var tombstones: [Tombstone] { state.withLockedValue { $0.tombstones } }
}
