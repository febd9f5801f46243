/// Every cached key one change invalidates, each once, in breadth-first order.
public struct InstanceClosure: Sendable {
    public struct Entry: Sendable, Hashable {
        public enum Reason: String, Sendable, Hashable, Codable {
            /// Through a registration the graph declares.
            case registered
            /// Through a registration the graph does not declare: honoured, and shown.
            case undeclared
            /// Computed from a `bind` template, whether or not anyone registered the key.
            case bound
        }

        /// `service/key`.
        public let name: String
        /// Hops from the root change: 1 for direct dependents. Always the shortest.
        public let depth: Int
        /// Index of the entry this one was reached from; -1 for the root.
        public let parent: Int
        public let reason: Reason
        /// The key's family lies in a circular component of the graph (a cycle of families,
        /// or one depending on itself): keys the bus watches for concurrent updates.
        public let circular: Bool
        /// The first `/` of `name`, found once: the bus asks for `service` and `key` of every
        /// entry, and scanning characters each time showed in its profile.
        private let slash: String.Index?

        init(name: String, depth: Int, parent: Int, reason: Reason, circular: Bool = false) {
            self.name = name
            self.depth = depth
            self.parent = parent
            self.reason = reason
            self.circular = circular
            slash = Self.firstSlash(of: name)
        }

        public var service: Substring { name[..<(slash ?? name.startIndex)] }
        public var key: Substring {
            guard let slash else { return name[...] }
            return name[name.index(after: slash)...]
        }

        /// `name.firstIndex(of: "/")`, by bytes when ASCII surrounds the slash (then it is a
        /// whole Character, as no combining mark or prepend can be attached to it).
        private static func firstSlash(of name: String) -> String.Index? {
            let utf8 = name.utf8
            var index = utf8.startIndex
            while index < utf8.endIndex {
                let byte = utf8[index]
                if byte >= 0x80 { return name.firstIndex(of: "/") }
                if byte == UInt8(ascii: "/") {
                    let next = utf8.index(after: index)
                    if next < utf8.endIndex, utf8[next] >= 0x80 { return name.firstIndex(of: "/") }
                    return index
                }
                index = utf8.index(after: index)
            }
            return nil
        }
    }

    /// The change: `Entity#id` or `service/key`.
    public let root: String
    public let entries: [Entry]
    /// Bindings that could not be filled (an attribute the event did not carry).
    public let unresolved: [String]

    /// The chain from the root to `entries[index]`, root first.
    public func path(to index: Int) -> [String] {
        var chain: [String] = []
        var current = index
        while current >= 0 {
            chain.append(entries[current].name)
            current = entries[current].parent
        }
        chain.append(root)
        return chain.reversed()
    }

    /// Entries grouped by service, for one invalidation message per service.
    public var byService: [String: [Entry]] {
        Dictionary(grouping: entries) { String($0.service) }
    }
}

/// What one closure needs besides the index: a visited stamp per id and the id queue,
/// reused from closure to closure so a closure allocates only its result.
struct ClosureScratch {
    var stamps: [UInt32] = []
    var generation: UInt32 = 0
    var ids: [UInt32] = []
    /// Bound keys nobody registered (they have no id), known by their bytes: checked before
    /// a String is made, and without hashing one.
    var unregistered = NameInterner()

    mutating func prepare(capacity: Int) {
        if stamps.count < capacity { stamps.append(contentsOf: repeatElement(0, count: capacity - stamps.count)) }
        generation &+= 1
        if generation == 0 {
            // Wrapped around: old stamps could collide with the new generation.
            for index in stamps.indices { stamps[index] = 0 }
            generation = 1
        }
        ids.removeAll(keepingCapacity: true)
        unregistered.removeAll()
    }
}

extension InstanceIndexState {
    enum ClosureRoot {
        case entity(entity: String, id: String, attrs: [String: String])
        case key(service: String, key: String)
    }

    /// Breadth-first over registered dependents and template bindings; the visited stamps
    /// make cycles harmless and give each key once, at its shortest depth.
    func closure(from root: ClosureRoot, binder: TemplateBinder?, scratch: inout ClosureScratch) -> InstanceClosure {
        scratch.prepare(capacity: names.capacity)
        let generation = scratch.generation
        var entries: [InstanceClosure.Entry] = []
        var unresolved: [String] = []
        // By entry index: the family number and parameters of bound entries whose family
        // others bind to (nil otherwise), so bound keys are never re-parsed.
        var boundValues: [(family: UInt32, values: [String: String])?] = []
        // Where the binder spells bound names, looked up by bytes: a String is made only
        // for a name that becomes an entry.
        var spelling: [UInt8] = []
        spelling.reserveCapacity(128)
        let notIndexed = UInt32.max
        // The nested functions use these locals, not `self`: capturing `self` copied the
        // whole index state (a dozen array references) in the profile.
        let names = self.names
        let keyFamilies = self.keyFamilies
        func find(_ name: String) -> UInt32? {
            var name = name
            return name.withUTF8 { names.find($0) }
        }

        func visit(_ entry: UInt32, depth: Int, parent: Int) {
            let id = entry & InstanceIndexState.idMask
            guard scratch.stamps[Int(id)] != generation else { return }
            scratch.stamps[Int(id)] = generation
            let reason: InstanceClosure.Entry.Reason = entry & InstanceIndexState.undeclaredBit == 0 ? .registered : .undeclared
            let circular = binder?.isCircular(number: keyFamilies[Int(id)]) ?? false
            entries.append(.init(name: names.name(of: id), depth: depth, parent: parent, reason: reason, circular: circular))
            boundValues.append(nil)
            scratch.ids.append(id)
        }

        func visitBound(_ family: UInt32, _ spelled: UnsafeBufferPointer<UInt8>, _ values: [String: String]?, depth: Int, parent: Int) {
            if let id = names.find(spelled) {
                guard scratch.stamps[Int(id)] != generation else { return }
                scratch.stamps[Int(id)] = generation
                scratch.ids.append(id)
            } else {
                guard scratch.unregistered.intern(spelled).inserted else { return }
                scratch.ids.append(notIndexed)
            }
            let name = String(decoding: spelled, as: UTF8.self)
            boundValues.append(values.map { (family, $0) })
            entries.append(.init(name: name, depth: depth, parent: parent, reason: .bound, circular: binder?.isCircular(number: family) ?? false))
        }

        let rootName: String
        switch root {
        case .entity(let entity, let id, let attrs):
            rootName = entity + "#" + id
            binder?.keys(entity: entity, id: id, attrs: attrs, name: &spelling,
                         emit: { visitBound($0, $1, $2, depth: 1, parent: -1) },
                         missing: { unresolved.append($0) })
        case .key(let service, let key):
            rootName = service + "/" + key
            binder?.keys(service: service[...], key: key[...], name: &spelling, emit: { visitBound($0, $1, $2, depth: 1, parent: -1) })
        }
        if let rootID = find(rootName) {
            // Marked first, so a cycle back to the root does not list it.
            scratch.stamps[Int(rootID)] = generation
            for entry in dependents[Int(rootID)] { visit(entry, depth: 1, parent: -1) }
        } else if case .key = root {
            var rootName = rootName
            _ = rootName.withUTF8 { scratch.unregistered.intern($0) }
        }

        var head = 0
        while head < entries.count {
            let id = scratch.ids[head]
            let depth = entries[head].depth + 1
            if id != notIndexed {
                for entry in dependents[Int(id)] { visit(entry, depth: depth, parent: head) }
            }
            if let binder {
                // Bound entries keep the family they were bound as; registered ones use the
                // family resolved when their name was interned: no template matching here.
                // A bound entry without values has a family nobody binds to, whatever family
                // its name was registered under. (The emit closures are literals, so they stay
                // on the stack.)
                if let (family, values) = boundValues[head] {
                    binder.keys(family: family, values: values, name: &spelling, emit: { visitBound($0, $1, $2, depth: depth, parent: head) })
                } else if entries[head].reason != .bound, id != notIndexed, binder.hasFamilyRules(number: keyFamilies[Int(id)]),
                          let values = keyValues[id] {
                    binder.keys(family: keyFamilies[Int(id)], values: values, name: &spelling, emit: { visitBound($0, $1, $2, depth: depth, parent: head) })
                }
            }
            head += 1
        }
        return InstanceClosure(root: rootName, entries: entries, unresolved: unresolved)
    }
}
