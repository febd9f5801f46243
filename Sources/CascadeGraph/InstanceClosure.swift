/// Every cached key one change invalidates, each once, in breadth-first order.
///
/// The bus reads it per event, so it holds no `String` per key: the names lie back to back in
/// `nameBytes`, and each `Slot` says where, with the name's hash and the offset of its first
/// `/`. `entries` spells them as Strings for the API edge (admin, CLI, tests).
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

        init(name: String, depth: Int, parent: Int, reason: Reason, circular: Bool = false) {
            self.name = name
            self.depth = depth
            self.parent = parent
            self.reason = reason
            self.circular = circular
        }

        public var service: Substring { name[..<(name.firstIndex(of: "/") ?? name.startIndex)] }
        public var key: Substring {
            guard let slash = name.firstIndex(of: "/") else { return name[...] }
            return name[name.index(after: slash)...]
        }
    }

    /// One entry as the hot path reads it: its name is `nameBytes[start ..< start + length]`.
    public struct Slot: Sendable, Hashable {
        public let start: Int32
        public let length: Int32
        /// Offset of the first `/` in the name (the service's length); -1 when none.
        public let slash: Int32
        public let depth: Int32
        /// Index of the slot this one was reached from; -1 for the root.
        public let parent: Int32
        public let reason: Entry.Reason
        public let circular: Bool
        /// `NameHash` of the name.
        public let hash: UInt64
    }

    /// The change: `Entity#id` or `service/key`.
    public let root: String
    /// Every entry's `service/key` name, back to back.
    public let nameBytes: [UInt8]
    public let slots: [Slot]
    /// Bindings that could not be filled (an attribute the event did not carry).
    public let unresolved: [String]

    init(root: String, nameBytes: [UInt8], slots: [Slot], unresolved: [String]) {
        self.root = root
        self.nameBytes = nameBytes
        self.slots = slots
        self.unresolved = unresolved
    }

    /// The entries, each spelled as it is read.
    public var entries: Entries { Entries(closure: self) }

    public struct Entries: RandomAccessCollection, Sendable, Equatable {
        let closure: InstanceClosure
        public var startIndex: Int { 0 }
        public var endIndex: Int { closure.slots.count }
        public subscript(position: Int) -> Entry {
            let slot = closure.slots[position]
            return Entry(
                name: closure.name(position), depth: Int(slot.depth), parent: Int(slot.parent), reason: slot.reason,
                circular: slot.circular)
        }

        public static func == (a: Entries, b: Entries) -> Bool { a.elementsEqual(b) }
    }

    /// The `service/key` name of entry `index`.
    public func name(_ index: Int) -> String {
        let slot = slots[index]
        return String(decoding: nameBytes[Int(slot.start)..<Int(slot.start + slot.length)], as: UTF8.self)
    }

    /// Calls `body` with the bytes of entry `index`'s service and key (split at the first `/`;
    /// a name without one is all key).
    public func withServiceAndKey<R>(
        _ index: Int, _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> R
    ) -> R {
        let slot = slots[index]
        return nameBytes.withUnsafeBufferPointer { bytes in
            let start = Int(slot.start)
            let end = start + Int(slot.length)
            let keyStart = slot.slash >= 0 ? start + Int(slot.slash) + 1 : start
            let serviceEnd = slot.slash >= 0 ? start + Int(slot.slash) : start
            return body(UnsafeBufferPointer(rebasing: bytes[start..<serviceEnd]), UnsafeBufferPointer(rebasing: bytes[keyStart..<end]))
        }
    }

    /// The chain from the root to `entries[index]`, root first.
    public func path(to index: Int) -> [String] {
        var chain: [String] = []
        var current = index
        while current >= 0 {
            chain.append(name(current))
            current = Int(slots[current].parent)
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
///
/// Closures of one wave (`InstanceIndex.ClosureWave`) share one generation of stamps: a key
/// an earlier closure of the wave reached is neither expanded nor listed again.
struct ClosureScratch {
    var stamps: [UInt32] = []
    var generation: UInt32 = 0
    var ids: [UInt32] = []
    /// The index revision the open wave's stamps were made on; nil when no wave is open.
    var wave: UInt64?
    /// Keys looked at by this scratch's closures (each dependent and each bound key, new or
    /// not): their work.
    var visits = 0
    /// Sizes of the last closure: the next result reserves as much, instead of growing its
    /// arrays a few times on the way (consecutive closures tend to be alike).
    var lastSlots = 16
    var lastNameBytes = 512
    /// Bound keys nobody registered (they have no id), known by their bytes: checked before
    /// a String is made, and without hashing one.
    var unregistered = NameInterner()
    var spelling = TemplateBinder.Spelling()
    var source: [UInt8] = []
    var bound: [(family: UInt32, firstSpan: Int32)] = []
    var boundSpans: [TemplateBinder.ValueSpan] = []

    /// Readies the scratch for a closure over an index of `capacity` ids. `wave`: the index's
    /// revision, to go on with the open wave if its stamps were made on that revision (else a
    /// new wave starts); nil for a closure on its own.
    mutating func prepare(capacity: Int, wave revision: UInt64?) {
        if stamps.count < capacity { stamps.append(contentsOf: repeatElement(0, count: capacity - stamps.count)) }
        if revision == nil || revision != wave {
            generation &+= 1
            if generation == 0 {
                // Wrapped around: old stamps could collide with the new generation.
                for index in stamps.indices { stamps[index] = 0 }
                generation = 1
            }
            unregistered.removeAll()
        }
        wave = revision
        ids.removeAll(keepingCapacity: true)
    }
}

extension InstanceIndexState {
    enum ClosureRoot {
        case entity(entity: String, id: String, attrs: [String: String])
        case key(service: String, key: String)
    }

    /// Breadth-first over registered dependents and template bindings; the visited stamps
    /// make cycles harmless and give each key once, at its shortest depth.
    /// `scratch` must be prepared (`ClosureScratch.prepare`): keys stamped with its generation
    /// count as reached already.
    func closure(from root: ClosureRoot, binder: TemplateBinder?, scratch: inout ClosureScratch) -> InstanceClosure {
        let generation = scratch.generation
        var nameBytes: [UInt8] = []
        nameBytes.reserveCapacity(scratch.lastNameBytes)
        var slots: [InstanceClosure.Slot] = []
        var unresolved: [String] = []
        // By entry index: for bound entries whose family others bind to, the family number
        // and the first of their parameters' spans in `boundSpans` (family 0 otherwise), so
        // bound keys are never re-parsed.
        var bound: [(family: UInt32, firstSpan: Int32)] = []
        var boundSpans: [TemplateBinder.ValueSpan] = []
        swap(&bound, &scratch.bound)
        swap(&boundSpans, &scratch.boundSpans)
        bound.removeAll(keepingCapacity: true)
        boundSpans.removeAll(keepingCapacity: true)
        slots.reserveCapacity(scratch.lastSlots)
        let notIndexed = UInt32.max
        // The nested functions use these locals, not `self`: capturing `self` copied the
        // whole index state (a dozen array references) in the profile.
        let names = self.names
        let keyFamilies = self.keyFamilies
        // Where the binder spells bound names, looked up by bytes: a name is copied into the
        // result only once it turns out to be new.
        // (Swapped out of the scratch and back, not copied: a copy shares the buffer, and the
        // first write would then allocate a new one.)
        var spelling = TemplateBinder.Spelling()
        swap(&spelling, &scratch.spelling)
        // The name of the entry being expanded, copied out of `nameBytes`, which grows meanwhile.
        var source: [UInt8] = []
        swap(&source, &scratch.source)
        func find(_ name: String) -> UInt32? {
            var name = name
            return name.withUTF8 { names.find($0) }
        }

        func append(
            _ bytes: UnsafeBufferPointer<UInt8>, hash: UInt64, depth: Int, parent: Int, reason: InstanceClosure.Entry.Reason,
            circular: Bool
        ) {
            let start = Int32(truncatingIfNeeded: nameBytes.count)
            let slash = bytes.firstIndex(of: UInt8(ascii: "/")).map { Int32(truncatingIfNeeded: $0) } ?? -1
            nameBytes.append(contentsOf: bytes)
            slots.append(.init(
                start: start, length: Int32(truncatingIfNeeded: bytes.count), slash: slash, depth: Int32(truncatingIfNeeded: depth),
                parent: Int32(truncatingIfNeeded: parent), reason: reason, circular: circular, hash: hash))
        }

        func visit(_ entry: UInt32, depth: Int, parent: Int) {
            scratch.visits &+= 1
            let id = entry & InstanceIndexState.idMask
            guard scratch.stamps[Int(id)] != generation else { return }
            scratch.stamps[Int(id)] = generation
            let reason: InstanceClosure.Entry.Reason = entry & InstanceIndexState.undeclaredBit == 0 ? .registered : .undeclared
            let circular = binder?.isCircular(number: keyFamilies[Int(id)]) ?? false
            names.withBytes(of: id) {
                append($0, hash: names.hash(of: id), depth: depth, parent: parent, reason: reason, circular: circular)
            }
            bound.append((0, -1))
            scratch.ids.append(id)
        }

        func visitBound(
            _ family: UInt32, _ spelled: UnsafeBufferPointer<UInt8>, _ spans: UnsafeBufferPointer<TemplateBinder.ValueSpan>,
            depth: Int, parent: Int
        ) {
            scratch.visits &+= 1
            let hash = NameHash.of(spelled)
            if let id = names.find(spelled, hash: hash).id {
                guard scratch.stamps[Int(id)] != generation else { return }
                scratch.stamps[Int(id)] = generation
                scratch.ids.append(id)
            } else {
                guard scratch.unregistered.intern(spelled).inserted else { return }
                scratch.ids.append(notIndexed)
            }
            // A family others bind to may have no parameters at all (`dashboard` from
            // `top-products`): it is expanded all the same.
            if binder?.hasFamilyRules(number: family) != true {
                bound.append((0, -1))
            } else {
                bound.append((family, Int32(truncatingIfNeeded: boundSpans.count)))
                boundSpans.append(contentsOf: spans)
            }
            append(spelled, hash: hash, depth: depth, parent: parent, reason: .bound, circular: binder?.isCircular(number: family) ?? false)
        }

        let rootName: String
        switch root {
        case .entity(let entity, let id, let attrs):
            rootName = entity + "#" + id
            binder?.keys(entity: entity, id: id, attrs: attrs, spelling: &spelling,
                         emit: { visitBound($0, $1, $2, depth: 1, parent: -1) },
                         missing: { unresolved.append($0) })
        case .key(let service, let key):
            rootName = service + "/" + key
            source.removeAll(keepingCapacity: true)
            source.append(contentsOf: rootName.utf8)
            source.withUnsafeBufferPointer { name in
                binder?.keys(service: service, key: key, name: name, spelling: &spelling, emit: { visitBound($0, $1, $2, depth: 1, parent: -1) })
            }
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
        while head < slots.count {
            let id = scratch.ids[head]
            let depth = Int(slots[head].depth) + 1
            if id != notIndexed {
                for entry in dependents[Int(id)] { visit(entry, depth: depth, parent: head) }
            }
            if let binder {
                // Bound entries keep the family they were bound as; registered ones use the
                // family resolved when their name was interned: no template matching here.
                // A bound entry without values has a family nobody binds to, whatever family
                // its name was registered under. (The emit closures are literals, so they stay
                // on the stack.)
                var family: UInt32 = 0
                var spans: ArraySlice<TemplateBinder.ValueSpan> = []
                let (boundFamily, firstSpan) = bound[head]
                if boundFamily != 0 {
                    family = boundFamily
                    let first = Int(firstSpan)
                    spans = boundSpans[first..<first + binder.parameterCount(number: family)]
                } else if slots[head].reason != .bound, id != notIndexed, binder.hasFamilyRules(number: keyFamilies[Int(id)]),
                          let registered = keySpans[id] {
                    family = keyFamilies[Int(id)]
                    spans = registered[...]
                }
                if family != 0 {
                    let slot = slots[head]
                    source.removeAll(keepingCapacity: true)
                    source.append(contentsOf: nameBytes[Int(slot.start)..<Int(slot.start + slot.length)])
                    source.withUnsafeBufferPointer { name in
                        spans.withUnsafeBufferPointer { spans in
                            binder.keys(
                                family: family, source: name, spans: spans, spelling: &spelling,
                                emit: { visitBound($0, $1, $2, depth: depth, parent: head) })
                        }
                    }
                }
            }
            head += 1
        }
        // Capped: one huge closure should not make every later one reserve as much.
        scratch.lastSlots = min(4096, max(16, slots.count))
        scratch.lastNameBytes = min(131_072, max(256, nameBytes.count))
        swap(&spelling, &scratch.spelling)
        swap(&source, &scratch.source)
        swap(&bound, &scratch.bound)
        swap(&boundSpans, &scratch.boundSpans)
        return InstanceClosure(root: rootName, nameBytes: nameBytes, slots: slots, unresolved: unresolved)
    }
}
