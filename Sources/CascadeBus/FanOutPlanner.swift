import CascadeGraph
import CascadeWire

/// Turns a closure into one invalidation message per affected service, split when a fan-out
/// is big. Each is encoded on its own; `EventSpan` then merges those of many events into one
/// batch per service.
struct FanOutPlanner: Sendable {
    let topics: Topics
    let maxKeysPerMessage: Int

    struct Plan: Sendable {
        var messages: [OutboundMessage] = []
        /// Keys per service.
        var fanOut: [String: Int] = [:]
    }

    /// Keys to drop, as substrings of the closure's `service/key` names, with their depth.
    typealias Keys = [(key: Substring, depth: Int)]

    /// `keys` by service; `tagOnly` are services that get the tags even with no key.
    func plan(
        kind: InvalidationMessage.Kind, cause: InvalidationMessage.Cause, rootTag: String,
        keys keysByService: [String: Keys], tagOnly: [String], fences: [InvalidationMessage.Fence],
        includeRootTag: Bool = true
    ) -> Plan {
        var plan = Plan()
        let kafkaKey = Array(rootTag.utf8)
        var services = Set(keysByService.keys)
        services.formUnion(tagOnly)
        for service in services.sorted() {
            let keys = keysByService[service] ?? []
            plan.fanOut[service] = keys.count
            let topic = topics.invalidations(service: service)
            var start = 0
            repeat {
                let end = min(keys.count, start + maxKeysPerMessage)
                let value = InvalidationMessage.fastEncoded(
                    kind: kind, cause: cause, keys: Array(keys[start..<end]),
                    // The tag goes once, with the first part.
                    tags: start == 0 && includeRootTag ? [rootTag] : [], fences: fences)
                plan.messages.append(OutboundMessage(topic: topic, key: kafkaKey, value: value, service: service))
                start = end
            } while start < keys.count
        }
        return plan
    }

    /// Keys by service from a closure, as substrings of its names: no String per key.
    static func keys(of closure: InstanceClosure) -> [String: Keys] {
        // A closure spans a handful of services: a short list compared by substring costs
        // less than hashing for every entry.
        var groups: [(service: Substring, keys: Keys)] = []
        var last = -1
        for entry in closure.entries {
            let service = entry.service
            let key = (entry.key, entry.depth)
            if last >= 0, groups[last].service == service {
                groups[last].keys.append(key)
            } else if let index = groups.firstIndex(where: { $0.service == service }) {
                groups[index].keys.append(key)
                last = index
            } else {
                groups.append((service, [key]))
                last = groups.count - 1
            }
        }
        return Dictionary(uniqueKeysWithValues: groups.map { (String($0.service), $0.keys) })
    }
}
