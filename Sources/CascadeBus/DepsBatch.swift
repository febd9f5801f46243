import CascadeGraph
import CascadeKafka
import CascadeWire

/// One polled batch of `cascade.deps` turned into instance-index changes, applied under one
/// lock: how the bus rebuilds its index at start and follows it after (`StateFollower`), and
/// what `cascade bench rebuild` times.
public struct DepsBatch {
    /// What one message of `cascade.deps` is.
    public enum Read {
        /// A registration, turned into a change; kept for the race check.
        case registration(Registration)
        /// A tombstone, turned into a change.
        case tombstone
        /// A value that is no registration: skipped.
        case unreadable
        /// No key, or a bus's start marker, or a tombstone whose key names no service.
        case ignored
    }

    public private(set) var changes: [InstanceIndex.Change] = []
    /// Registrations read into `changes` so far.
    public private(set) var registrations = 0

    public init(capacity: Int = 0) {
        changes.reserveCapacity(capacity)
    }

    /// Reads a message of `cascade.deps`; a registration or a tombstone joins `changes`.
    public mutating func read(_ message: KafkaMessage) -> Read {
        guard let keyText = message.keyString, !keyText.hasPrefix(TopicSetup.markerPrefix) else { return .ignored }
        guard let bytes = message.valueBytes else {
            // A tombstone: the value is gone. It names the registration it ends in headers
            // (none from hand-written tombstones: then whatever is registered ends).
            guard let slash = keyText.firstIndex(of: "/") else { return .ignored }
            var owner: RegistrationOwner?
            if let node = message.header(RegistrationOwner.nodeHeader),
               let incarnation = message.header(RegistrationOwner.incarnationHeader).flatMap({ UInt64(String(decoding: $0, as: UTF8.self)) }) {
                owner = RegistrationOwner(node: String(decoding: node, as: UTF8.self), incarnation: incarnation)
            }
            let key = CacheKeyRef(service: String(keyText[..<slash]), key: String(keyText[keyText.index(after: slash)...]))
            changes.append(.unregister(key, owner: owner))
            return .tombstone
        }
        guard let registration = try? Registration.decode(bytes) else { return .unreadable }
        registrations += 1
        let dependencies = registration.deps.compactMap { try? Dependency.parse($0, service: registration.service) }
        changes.append(.register(
            CacheKeyRef(service: registration.service, key: registration.key), dependencies: dependencies, owner: registration.owner))
        return .registration(registration)
    }

    /// Applies the changes read, in order, under one lock of the index.
    public func apply(to index: InstanceIndex) {
        if !changes.isEmpty { index.apply(changes) }
    }

    /// Reads messages of `cascade.deps` into the index in batches of `batch` messages (one
    /// consumer poll), as the bus does while it rebuilds, the race check aside; returns how
    /// many were registrations.
    @discardableResult
    public static func replay(_ messages: some Collection<KafkaMessage>, into index: InstanceIndex, batch: Int = 4096) -> Int {
        precondition(batch >= 1)
        var registrations = 0
        var start = messages.startIndex
        while start != messages.endIndex {
            let end = messages.index(start, offsetBy: batch, limitedBy: messages.endIndex) ?? messages.endIndex
            var deps = DepsBatch(capacity: messages.distance(from: start, to: end))
            for message in messages[start..<end] { _ = deps.read(message) }
            deps.apply(to: index)
            registrations += deps.registrations
            start = end
        }
        return registrations
    }
}
