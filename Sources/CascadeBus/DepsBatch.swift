import CascadeGraph
import CascadeKafka
import CascadeWire

/// One polled batch of `cascade.deps` read for the instance index and applied under one lock:
/// how the bus rebuilds its index at start and follows it after (`StateFollower`), and what
/// `cascade bench rebuild` times. Registrations go to the index as bytes
/// (`SpelledRegistrations`); only those the caller keeps are decoded whole.
public struct DepsBatch {
    /// What one message of `cascade.deps` is.
    public enum Read {
        /// A registration, decoded whole for the caller (the race check).
        case registration(Registration)
        /// A registration read for the index only (`keep` false), whether as bytes or, when not
        /// plain, decoded.
        case spelled
        /// A tombstone of `key`, ending `owner`'s registration (or whatever is registered).
        case tombstone(CacheKeyRef, owner: RegistrationOwner?)
        /// A value that is no registration: skipped.
        case unreadable
        /// No key, or a bus's start marker, or a tombstone whose key names no service.
        case ignored
    }

    public private(set) var spelled = SpelledRegistrations()
    /// Registrations read into `spelled` so far.
    public private(set) var registrations = 0

    public init() {}

    /// Reads a message of `cascade.deps`; a registration or a tombstone joins `spelled`. `keep`:
    /// the caller wants a registration whole (`.registration`), not only in the index.
    public mutating func read(_ message: KafkaMessage, keep: Bool = true) -> Read {
        let read = Self.read(message, keep: keep, into: &spelled)
        switch read {
        case .registration, .spelled: registrations += 1
        case .tombstone, .unreadable, .ignored: break
        }
        return read
    }

    /// Reads one message of `cascade.deps` without indexing it (the router of partitioned state).
    public static func read(_ message: KafkaMessage) -> Read {
        var unused = SpelledRegistrations()
        return read(message, keep: true, into: &unused)
    }

    private static func read(_ message: KafkaMessage, keep: Bool, into spelled: inout SpelledRegistrations) -> Read {
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
            spelled.appendTombstone(key, owner: owner, wentAtMillis: message.timestampMillis ?? 0)
            return .tombstone(key, owner: owner)
        }
        if !keep, Registration.spell(bytes, into: &spelled) { return .spelled }
        guard let registration = try? Registration.decode(bytes) else { return .unreadable }
        spelled.append(registration)
        return keep ? .registration(registration) : .spelled
    }

    /// Applies what was read, in order, under one lock of the index; tombstones of the last
    /// grace before `nowMillis` keep their keys' edges a while (`InstanceIndex.endGraces`).
    public func apply(to index: InstanceIndex, nowMillis: Int64 = 0) {
        if !spelled.items.isEmpty { index.apply(spelled, nowMillis: nowMillis) }
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
            var deps = DepsBatch()
            for message in messages[start..<end] { _ = deps.read(message, keep: false) }
            deps.apply(to: index)
            registrations += deps.registrations
            start = end
        }
        return registrations
    }
}
