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
    /// first in its service's message, at depth 0. `kafkaKey`: the messages' Kafka key, the
    /// root tag's bytes when nil (a caller that has them already passes them, saving a copy).
    func plan(
        kind: InvalidationMessage.Kind, cause: InvalidationMessage.Cause, rootTag: String, kafkaKey: [UInt8]? = nil,
        closure: InstanceClosure, positions: [Int]? = nil, rootKey: CacheKeyRef? = nil, tagOnly: [String],
        fences: some Collection<InvalidationMessage.Fence>, includeRootTag: Bool = true
    ) -> Plan {
        var keyBytes = closure.nameBytes
        var rootSpan: InvalidationMessage.KeySpan?
        if let rootKey {
            rootSpan = InvalidationMessage.KeySpan(
                start: Int32(truncatingIfNeeded: keyBytes.count), length: Int32(truncatingIfNeeded: rootKey.key.utf8.count), depth: 0)
            keyBytes.append(contentsOf: rootKey.key.utf8)
        }
        let keys = Keys(closure: closure, positions: positions, rootSpan: rootSpan)
        var groups = ServiceGroups(known: known, topics: topics)
        let groupLimit = known.count + keys.count + tagOnly.count
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: keys.count + 2 * groupLimit) { scratch in
            // The group of each key in order; per group, how many keys it has (-1: none and no
            // tags) and where its next key goes in the sorted spans.
            let groupOf = UnsafeMutableBufferPointer(rebasing: scratch[0..<keys.count])
            let counts = UnsafeMutableBufferPointer(rebasing: scratch[keys.count..<keys.count + groupLimit])
            let fill = UnsafeMutableBufferPointer(rebasing: scratch[keys.count + groupLimit..<keys.count + 2 * groupLimit])
            counts.initialize(repeating: -1)
            groups.assign(keys, rootService: rootKey?.service, tagOnly: tagOnly, groupOf: groupOf, counts: counts)
            return withUnsafeTemporaryAllocation(of: InvalidationMessage.KeySpan.self, capacity: keys.count) { spans in
                keys.sort(into: spans, groupOf: groupOf, counts: counts, fill: fill, groups: groups.count)
                let head = Self.head(kind: kind, cause: cause, fences: fences)
                return emit(
                    UnsafeBufferPointer(spans), groups: groups, counts: counts, fill: fill, head: head, keyBytes: keyBytes,
                    kafkaKey: kafkaKey ?? Array(rootTag.utf8), rootTag: rootTag, includeRootTag: includeRootTag)
            }
        }
    }

    /// The head of a plan's messages, its fences copied to the stack (a cascade has one or
    /// two): no array per cascade.
    private static func head(
        kind: InvalidationMessage.Kind, cause: InvalidationMessage.Cause, fences: some Collection<InvalidationMessage.Fence>
    ) -> InvalidationMessage.Head {
        withUnsafeTemporaryAllocation(of: InvalidationMessage.Fence.self, capacity: fences.count) { buffer in
            let (_, filled) = buffer.initialize(from: fences)
            defer { _ = buffer[..<filled].deinitialize() }
            return InvalidationMessage.Head(kind: kind, cause: cause, fences: UnsafeBufferPointer(rebasing: buffer[..<filled]))
        }
    }

    /// One message per service with keys or tags (more when it has over `maxKeysPerMessage`
    /// keys), in service-name order. `fill` points past each group's keys in `sorted`.
    private func emit(
        _ sorted: UnsafeBufferPointer<InvalidationMessage.KeySpan>, groups: ServiceGroups, counts: UnsafeMutableBufferPointer<Int32>,
        fill: UnsafeMutableBufferPointer<Int32>, head: InvalidationMessage.Head, keyBytes: [UInt8], kafkaKey: [UInt8],
        rootTag: String, includeRootTag: Bool
    ) -> Plan {
        var plan = Plan()
        let present = counts[0..<groups.count].count { $0 >= 0 }
        plan.fanOut.reserveCapacity(present)
        // One more for the ledger record the caller appends.
        plan.messages.reserveCapacity(present + 1)
        let tag = includeRootTag ? rootTag : nil
        let order = groups.nameOrder
        for index in 0..<groups.count {
            let number = order?[index] ?? index
            guard counts[number] >= 0 else { continue }
            let service = groups[number]
            let keys = Int(counts[number])
            plan.fanOut.append(.init(service: service.name, keys: keys))
            let first = Int(fill[number]) - keys
            var start = first
            let end = start + keys
            repeat {
                let part = min(end, start + maxKeysPerMessage)
                let value = InvalidationMessage.fastEncoded(
                    head: head, keyBytes: keyBytes, keys: UnsafeBufferPointer(rebasing: sorted[start..<part]),
                    // The tag goes once, with the first part.
                    tag: start == first ? tag : nil)
                plan.messages.append(OutboundMessage(topic: service.topic, key: kafkaKey, value: value, service: service.name))
                start = part
            } while start < end
        }
        return plan
    }

    /// The keys a plan carries: the root key (if any) first, then the closure's entries at
    /// `positions` (all when nil).
    private struct Keys {
        let closure: InstanceClosure
        let positions: [Int]?
        let rootSpan: InvalidationMessage.KeySpan?

        var count: Int { (positions?.count ?? closure.slots.count) + (rootSpan == nil ? 0 : 1) }

        /// Calls `body` with each closure key's service name, in order (the root key excluded).
        func forEachService(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
            closure.nameBytes.withUnsafeBufferPointer { bytes in
                func visit(_ position: Int) {
                    let slot = closure.slots[position]
                    let start = Int(slot.start)
                    body(UnsafeBufferPointer(rebasing: bytes[start..<start + max(0, Int(slot.slash))]))
                }
                if let positions {
                    for position in positions { visit(position) }
                } else {
                    for position in closure.slots.indices { visit(position) }
                }
            }
        }

        /// Key `key`'s span in the message: its name after the service's `/`.
        func span(_ key: Int) -> InvalidationMessage.KeySpan {
            if let rootSpan, key == 0 { return rootSpan }
            let position = key - (rootSpan == nil ? 0 : 1)
            let slot = closure.slots[positions?[position] ?? position]
            let keyOffset = slot.slash >= 0 ? slot.slash + 1 : 0
            return InvalidationMessage.KeySpan(start: slot.start + keyOffset, length: slot.length - keyOffset, depth: slot.depth)
        }

        /// Counting sort: each group's keys together, in closure order. Leaves `fill` pointing
        /// past each group's keys.
        func sort(
            into spans: UnsafeMutableBufferPointer<InvalidationMessage.KeySpan>, groupOf: UnsafeMutableBufferPointer<Int32>,
            counts: UnsafeMutableBufferPointer<Int32>, fill: UnsafeMutableBufferPointer<Int32>, groups: Int
        ) {
            var total: Int32 = 0
            for number in 0..<groups {
                fill[number] = total
                total += max(0, counts[number])
            }
            for key in 0..<count {
                let number = Int(groupOf[key])
                (spans.baseAddress! + Int(fill[number])).initialize(to: span(key))
                fill[number] += 1
            }
        }
    }

    /// The services of one plan, numbered: the graph's first (in name order), then services
    /// outside the graph (an undeclared registration's) as they come, each once.
    private struct ServiceGroups {
        let known: [Service]
        let topics: Topics
        var others: [Service] = []

        var count: Int { known.count + others.count }

        subscript(number: Int) -> Service { number < known.count ? known[number] : others[number - known.count] }

        /// Whether group `number` is the service `name`; read in place, where `self[number]`
        /// would copy the service (three retains and releases per key).
        func group(_ number: Int, isNamed name: UnsafeBufferPointer<UInt8>) -> Bool {
            number < known.count ? known[number].named(name) : others[number - known.count].named(name)
        }

        mutating func group(named name: UnsafeBufferPointer<UInt8>) -> Int {
            if let found = (0..<count).first(where: { group($0, isNamed: name) }) { return found }
            others.append(Service(String(decoding: name, as: UTF8.self), topics: topics))
            return known.count + others.count - 1
        }

        /// Numbers every key's service into `groupOf` and counts keys per group; services in
        /// `tagOnly` get a group even without keys.
        mutating func assign(
            _ keys: Keys, rootService: String?, tagOnly: [String], groupOf: UnsafeMutableBufferPointer<Int32>,
            counts: UnsafeMutableBufferPointer<Int32>
        ) {
            var next = 0
            func count(in group: Int) {
                groupOf[next] = Int32(truncatingIfNeeded: group)
                counts[group] = max(0, counts[group]) + 1
                next += 1
            }
            if var rootService {
                count(in: rootService.withUTF8 { group(named: $0) })
            }
            var last = -1
            keys.forEachService { name in
                // Keys of one service tend to follow each other in a closure.
                if last < 0 || !group(last, isNamed: name) { last = group(named: name) }
                count(in: last)
            }
            for service in tagOnly {
                var service = service
                let number = service.withUTF8 { group(named: $0) }
                counts[number] = max(0, counts[number])
            }
        }

        /// Group numbers in service-name order when services outside the graph (rare) came
        /// in; nil when the numbers are in that order already (the graph's are numbered so).
        var nameOrder: [Int]? {
            others.isEmpty ? nil : (0..<count).sorted { self[$0].name < self[$1].name }
        }
    }
}
