import CascadeGraph
import CascadeWire

/// Turns a closure into one invalidation message per affected service, split when a fan-out
/// is big. Each is encoded on its own, keys copied from the closure's name bytes; `EventSpan`
/// then merges those of many events into one batch per service.
struct FanOutPlanner: Sendable {
    let topics: Topics
    let maxKeysPerMessage: Int
    /// The graph's services with their names as bytes and their topics, made once: a group of
    /// a known service builds no String per event.
    private let known: [Service]

    init(topics: Topics, maxKeysPerMessage: Int, services: [String] = []) {
        self.topics = topics
        self.maxKeysPerMessage = maxKeysPerMessage
        self.known = services.map { Service($0, topics: topics) }
    }

    struct Plan: Sendable {
        var messages: [OutboundMessage] = []
        /// Keys per service.
        var fanOut: [String: Int] = [:]
    }

    private struct Service: Sendable {
        let name: String
        let bytes: [UInt8]
        let topic: String

        init(_ name: String, topics: Topics) {
            self.name = name
            self.bytes = Array(name.utf8)
            self.topic = topics.invalidations(service: name)
        }

        func named(_ candidate: UnsafeBufferPointer<UInt8>) -> Bool {
            bytes.count == candidate.count && bytes.withUnsafeBufferPointer { $0.elementsEqual(candidate) }
        }
    }

    /// The entries of `closure` at `positions` (all when nil) by service; `tagOnly` are services
    /// that get the tags even with no key. `rootKey` (a key whose own value is stale) goes
    /// first in its service's message, at depth 0.
    func plan(
        kind: InvalidationMessage.Kind, cause: InvalidationMessage.Cause, rootTag: String,
        closure: InstanceClosure, positions: [Int]? = nil, rootKey: CacheKeyRef? = nil, tagOnly: [String],
        fences: [InvalidationMessage.Fence], includeRootTag: Bool = true
    ) -> Plan {
        // Each key with the number of its service's group, in closure order; the groups are
        // few, so finding one by comparing bytes costs less than hashing.
        var groups: [Service] = []
        groups.reserveCapacity(known.count + tagOnly.count + 1)
        var members: [(group: Int, span: InvalidationMessage.KeySpan)] = []
        members.reserveCapacity((positions?.count ?? closure.slots.count) + 1)
        var keyBytes = closure.nameBytes
        if let rootKey {
            let span = InvalidationMessage.KeySpan(
                start: Int32(truncatingIfNeeded: keyBytes.count), length: Int32(truncatingIfNeeded: rootKey.key.utf8.count), depth: 0)
            keyBytes.append(contentsOf: rootKey.key.utf8)
            var service = rootKey.service
            members.append((service.withUTF8 { group(named: $0, in: &groups) }, span))
        }
        closure.nameBytes.withUnsafeBufferPointer { bytes in
            var last = -1
            func add(_ position: Int) {
                let slot = closure.slots[position]
                let serviceStart = Int(slot.start)
                let service = UnsafeBufferPointer(rebasing: bytes[serviceStart..<serviceStart + max(0, Int(slot.slash))])
                let keyOffset = slot.slash >= 0 ? slot.slash + 1 : 0
                let span = InvalidationMessage.KeySpan(start: slot.start + keyOffset, length: slot.length - keyOffset, depth: slot.depth)
                if last < 0 || !groups[last].named(service) { last = group(named: service, in: &groups) }
                members.append((last, span))
            }
            if let positions {
                for position in positions { add(position) }
            } else {
                for position in closure.slots.indices { add(position) }
            }
        }
        for service in tagOnly {
            var service = service
            _ = service.withUTF8 { group(named: $0, in: &groups) }
        }
        var plan = Plan()
        // One more for the ledger record the caller appends.
        plan.messages.reserveCapacity(groups.count + 1)
        let kafkaKey = Array(rootTag.utf8)
        let tags = includeRootTag ? [rootTag] : []
        var spans: [InvalidationMessage.KeySpan] = []
        spans.reserveCapacity(members.count)
        // Sorted by name in place, each still knowing its number.
        var ordered = groups.enumerated().map { (number: $0.offset, service: $0.element) }
        ordered.sort { $0.service.name < $1.service.name }
        for (number, service) in ordered {
            spans.removeAll(keepingCapacity: true)
            for member in members where member.group == number { spans.append(member.span) }
            plan.fanOut[service.name] = spans.count
            var start = 0
            repeat {
                let end = min(spans.count, start + maxKeysPerMessage)
                let value = InvalidationMessage.fastEncoded(
                    kind: kind, cause: cause, keyBytes: keyBytes, keys: spans[start..<end],
                    // The tag goes once, with the first part.
                    tags: start == 0 ? tags : [], fences: fences)
                plan.messages.append(OutboundMessage(topic: service.topic, key: kafkaKey, value: value, service: service.name))
                start = end
            } while start < spans.count
        }
        return plan
    }

    /// The number of the group of the service named `name`, added when new: from the graph's
    /// services when it is one of them, spelled afresh otherwise.
    private func group(named name: UnsafeBufferPointer<UInt8>, in groups: inout [Service]) -> Int {
        if let found = groups.firstIndex(where: { $0.named(name) }) { return found }
        if let service = known.first(where: { $0.named(name) }) {
            groups.append(service)
        } else {
            groups.append(Service(String(decoding: name, as: UTF8.self), topics: topics))
        }
        return groups.count - 1
    }
}
