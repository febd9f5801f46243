import CascadeGraph
import CascadeWire

/// Turns a closure into one invalidation message per affected service, split when a fan-out
/// is big. Each is encoded on its own, keys copied from the closure's name bytes; `EventSpan`
/// then merges those of many events into one batch per service.
struct FanOutPlanner: Sendable {
    let topics: Topics
    let maxKeysPerMessage: Int

    struct Plan: Sendable {
        var messages: [OutboundMessage] = []
        /// Keys per service.
        var fanOut: [String: Int] = [:]
    }

    /// The keys of one service: spans of the closure's name bytes.
    private struct Group {
        var service: String
        /// Where the service's name lies in the closure's bytes (for comparing without a String).
        var serviceStart: Int
        var serviceLength: Int
        var keys: [InvalidationMessage.KeySpan] = []
    }

    /// The entries of `closure` at `positions` (all when nil) by service; `tagOnly` are services
    /// that get the tags even with no key. `rootKey` (a key whose own value is stale) goes
    /// first in its service's message, at depth 0.
    func plan(
        kind: InvalidationMessage.Kind, cause: InvalidationMessage.Cause, rootTag: String,
        closure: InstanceClosure, positions: [Int]? = nil, rootKey: CacheKeyRef? = nil, tagOnly: [String],
        fences: [InvalidationMessage.Fence], includeRootTag: Bool = true
    ) -> Plan {
        var groups = Self.groups(closure, positions: positions)
        var keyBytes = closure.nameBytes
        if let rootKey {
            let span = InvalidationMessage.KeySpan(
                start: Int32(truncatingIfNeeded: keyBytes.count), length: Int32(truncatingIfNeeded: rootKey.key.utf8.count), depth: 0)
            keyBytes.append(contentsOf: rootKey.key.utf8)
            if let index = groups.firstIndex(where: { $0.service == rootKey.service }) {
                groups[index].keys.insert(span, at: 0)
            } else {
                groups.append(Group(service: rootKey.service, serviceStart: 0, serviceLength: 0, keys: [span]))
            }
        }
        for service in tagOnly where !groups.contains(where: { $0.service == service }) {
            groups.append(Group(service: service, serviceStart: 0, serviceLength: 0))
        }
        groups.sort { $0.service < $1.service }
        var plan = Plan()
        let kafkaKey = Array(rootTag.utf8)
        for group in groups {
            plan.fanOut[group.service] = group.keys.count
            let topic = topics.invalidations(service: group.service)
            var start = 0
            repeat {
                let end = min(group.keys.count, start + maxKeysPerMessage)
                let value = InvalidationMessage.fastEncoded(
                    kind: kind, cause: cause, keyBytes: keyBytes, keys: group.keys[start..<end],
                    // The tag goes once, with the first part.
                    tags: start == 0 && includeRootTag ? [rootTag] : [], fences: fences)
                plan.messages.append(OutboundMessage(topic: topic, key: kafkaKey, value: value, service: group.service))
                start = end
            } while start < group.keys.count
        }
        return plan
    }

    /// A closure spans a handful of services: a short list compared by bytes costs less than
    /// hashing, and a String is made once per service, not per key.
    private static func groups(_ closure: InstanceClosure, positions: [Int]?) -> [Group] {
        var groups: [Group] = []
        var last = -1
        closure.nameBytes.withUnsafeBufferPointer { bytes in
            func sameService(_ group: Group, _ start: Int, _ length: Int) -> Bool {
                group.serviceLength == length
                    && (group.serviceStart == start
                        || UnsafeBufferPointer(rebasing: bytes[group.serviceStart..<group.serviceStart + length])
                            .elementsEqual(UnsafeBufferPointer(rebasing: bytes[start..<start + length])))
            }
            func add(_ position: Int) {
                let slot = closure.slots[position]
                let serviceStart = Int(slot.start)
                let serviceLength = max(0, Int(slot.slash))
                let keyOffset = slot.slash >= 0 ? slot.slash + 1 : 0
                let key = InvalidationMessage.KeySpan(start: slot.start + keyOffset, length: slot.length - keyOffset, depth: slot.depth)
                if last >= 0, sameService(groups[last], serviceStart, serviceLength) {
                    groups[last].keys.append(key)
                } else if let index = groups.firstIndex(where: { sameService($0, serviceStart, serviceLength) }) {
                    groups[index].keys.append(key)
                    last = index
                } else {
                    let service = String(decoding: UnsafeBufferPointer(rebasing: bytes[serviceStart..<serviceStart + serviceLength]), as: UTF8.self)
                    groups.append(Group(service: service, serviceStart: serviceStart, serviceLength: serviceLength, keys: [key]))
                    last = groups.count - 1
                }
            }
            if let positions {
                for position in positions { add(position) }
            } else {
                for position in closure.slots.indices { add(position) }
            }
        }
        return groups
    }
}
