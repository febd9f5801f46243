import CascadeWire
import NIOConcurrencyHelpers

/// Where a node sends what its keys depend on (`cascade.deps`). The Kafka-backed one lives
/// with the Kafka wiring; calls come from event-loop threads and must not block.
public protocol RegistrationPublisher: Sendable {
    /// A key was stored with dependencies (SET/LEASE.SET ... DEPS, or LEASE.GET ... DEPS).
    func publish(_ registration: Registration)
    /// Registered keys that are gone (deleted, expired, evicted, invalidated), in one batch.
    func publishTombstones(service: String, keys: [String])
}

/// For a node run without Kafka.
public struct NoRegistrationPublisher: RegistrationPublisher {
    public init() {}
    public func publish(_ registration: Registration) {}
    public func publishTombstones(service: String, keys: [String]) {}
}

/// Keeps what was published, for tests.
public final class InMemoryRegistrationPublisher: RegistrationPublisher {
    private let state = NIOLockedValueBox<(registrations: [Registration], tombstones: [String])>(([], []))

    public init() {}

    public func publish(_ registration: Registration) {
        state.withLockedValue { $0.registrations.append(registration) }
    }

    public func publishTombstones(service: String, keys: [String]) {
        state.withLockedValue { $0.tombstones.append(contentsOf: keys) }
    }

    public var registrations: [Registration] { state.withLockedValue { $0.registrations } }
    public var tombstones: [String] { state.withLockedValue { $0.tombstones } }
}
