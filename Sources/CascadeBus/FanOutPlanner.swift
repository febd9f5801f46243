import CascadeGraph
import CascadeWire

/// Turns a closure into one invalidation message per affected service, split when a fan-out
/// is big. Each is encoded on its own, keys copied from the closure's name bytes; `EventSpan`
/// then merges those of many events into one batch per service.
///
/// Per event it allocates only what it returns (the messages and the fan-out counts): the
/// graph's services are numbered once, in name order, and the keys are sorted into their
/// services by counting, in scratch space on the stack.
struct FanOutPlanner: Sendable {
    let topics: Topics
    let maxKeysPerMessage: Int
    /// The graph's services, in name order, with their names as bytes and their topics,
    /// made once: a key of a known service builds no String per event.
    private let known: [Service]

    init(topics: Topics, maxKeysPerMessage: Int, services: [String] = []) {
        self.topics = topics
        self.maxKeysPerMessage = maxKeysPerMessage
        self.known = Set(services).sorted().map { Service($0, topics: topics) }
    }

    struct Plan: Sendable {
        var messages: [OutboundMessage] = []
        /// Keys per service, in service-name order.
        var fanOut: [ProcessingResult.ServiceFanOut] = []
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
        var keyBytes = closure.nameBytes
        var rootSpan: InvalidationMessage.KeySpan?
        if let rootKey {
            rootSpan = InvalidationMessage.KeySpan(
                start: Int32(truncatingIfNeeded: keyBytes.count), length: Int32(truncatingIfNeeded: rootKey.key.utf8.count), depth: 0)
            keyBytes.append(contentsOf: rootKey.key.utf8)
        }
        let keyCount = (positions?.count ?? closure.slots.count) + (rootSpan == nil ? 0 : 1)
        // Services outside the graph (an undeclared registration's) are numbered after the
        // graph's, each at most once per key or tag.
        var others: [Service] = []
        let groupLimit = known.count + keyCount + tagOnly.count
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: keyCount + 2 * groupLimit) { scratch in
            // The group of each key in order; per group, how many keys it has (-1: none and no
            // tags) and where its next key goes in the sorted spans.
            let groupOf = UnsafeMutableBufferPointer(rebasing: scratch[0..<keyCount])
            let counts = UnsafeMutableBufferPointer(rebasing: scratch[keyCount..<keyCount + groupLimit])
            let fill = UnsafeMutableBufferPointer(rebasing: scratch[keyCount + groupLimit..<keyCount + 2 * groupLimit])
            counts.initialize(repeating: -1)
            func service(_ number: Int) -> Service { number < known.count ? known[number] : others[number - known.count] }
            func group(named name: UnsafeBufferPointer<UInt8>) -> Int {
                if let found = known.firstIndex(where: { $0.named(name) }) { return found }
                if let found = others.firstIndex(where: { $0.named(name) }) { return known.count + found }
                others.append(Service(String(decoding: name, as: UTF8.self), topics: topics))
                return known.count + others.count - 1
            }
            func count(_ key: Int, in group: Int) {
                groupOf[key] = Int32(truncatingIfNeeded: group)
                counts[group] = max(0, counts[group]) + 1
            }
            var next = 0
            if let rootKey {
                var service = rootKey.service
                count(next, in: service.withUTF8 { group(named: $0) })
                next += 1
            }
            closure.nameBytes.withUnsafeBufferPointer { bytes in
                var last = -1
                func add(_ position: Int) {
                    let slot = closure.slots[position]
                    let start = Int(slot.start)
                    let name = UnsafeBufferPointer(rebasing: bytes[start..<start + max(0, Int(slot.slash))])
                    // Keys of one service tend to follow each other in a closure.
                    if last < 0 || !service(last).named(name) {
                        last = group(named: name)
                    }
                    count(next, in: last)
                    next += 1
                }
                if let positions {
                    for position in positions { add(position) }
                } else {
                    for position in closure.slots.indices { add(position) }
                }
            }
            for service in tagOnly {
                var service = service
                let number = service.withUTF8 { group(named: $0) }
                counts[number] = max(0, counts[number])
            }
            return withUnsafeTemporaryAllocation(of: InvalidationMessage.KeySpan.self, capacity: keyCount) { spans in
                // Counting sort: each group's keys together, in closure order.
                let groups = known.count + others.count
                var present = 0
                var total: Int32 = 0
                for number in 0..<groups {
                    fill[number] = total
                    if counts[number] >= 0 { present += 1 }
                    total += max(0, counts[number])
                }
                var plan = Plan()
                plan.fanOut.reserveCapacity(present)
                // One more for the ledger record the caller appends.
                plan.messages.reserveCapacity(present + 1)
                func span(_ key: Int) -> InvalidationMessage.KeySpan {
                    if let rootSpan, key == 0 { return rootSpan }
                    let position = key - (rootSpan == nil ? 0 : 1)
                    let slot = closure.slots[positions?[position] ?? position]
                    let keyOffset = slot.slash >= 0 ? slot.slash + 1 : 0
                    return InvalidationMessage.KeySpan(start: slot.start + keyOffset, length: slot.length - keyOffset, depth: slot.depth)
                }
                for key in 0..<keyCount {
                    let number = Int(groupOf[key])
                    (spans.baseAddress! + Int(fill[number])).initialize(to: span(key))
                    fill[number] += 1
                }
                // The cause and fences are the same in every message: written once.
                let head = InvalidationMessage.Head(kind: kind, cause: cause, fences: fences)
                let kafkaKey = Array(rootTag.utf8)
                let tags = includeRootTag ? [rootTag] : []
                let sorted = UnsafeBufferPointer(spans)
                // The graph's services are numbered in name order; others, rare, are sorted in.
                let order = others.isEmpty ? nil : (0..<groups).sorted { service($0).name < service($1).name }
                for index in 0..<groups {
                    let number = order?[index] ?? index
                    guard counts[number] >= 0 else { continue }
                    let service = service(number)
                    let keys = Int(counts[number])
                    plan.fanOut.append(.init(service: service.name, keys: keys))
                    // `fill` now points past the group's keys.
                    let first = Int(fill[number]) - keys
                    var start = first
                    let end = start + keys
                    repeat {
                        let part = min(end, start + maxKeysPerMessage)
                        let value = InvalidationMessage.fastEncoded(
                            head: head, keyBytes: keyBytes, keys: UnsafeBufferPointer(rebasing: sorted[start..<part]),
                            // The tag goes once, with the first part.
                            tags: start == first ? tags : [])
                        plan.messages.append(OutboundMessage(topic: service.topic, key: kafkaKey, value: value, service: service.name))
                        start = part
                    } while start < end
                }
                return plan
            }
        }
    }
}
