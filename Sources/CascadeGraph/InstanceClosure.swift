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
        /// The key's family number in the graph's binder (0: none or no graph; `UInt16.max`: a
        /// number too large to keep here). It fits beside the flags: the slot stays 32 bytes.
        public let family: UInt16
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
    /// What `visit` and `visitBound` change. Apart from `spelling` and `source`: the binder's
    /// `emit` adds entries while the binder spells into one and reads the other.
    var entries = ClosureEntries()
    /// The index revision the open wave's stamps were made on; nil when no wave is open.
    var wave: UInt64?
    /// Sizes of the last closure: the next result reserves as much, instead of growing its
    /// arrays a few times on the way (consecutive closures tend to be alike).
    var lastSlots = 16
    var lastNameBytes = 512
    /// Where the binder spells bound names, looked up by bytes: a name is copied into the
    /// result only once it turns out to be new.
    var spelling = TemplateBinder.Spelling()
    /// The name of the entry being expanded, copied out of the entries' names, which grow
    /// meanwhile.
    var source: [UInt8] = []
    /// The parameters' spans in `source`, copied out likewise: a slice of the entries' spans
    /// would make their next append copy them whole.
    var sourceSpans: [TemplateBinder.ValueSpan] = []

    /// Keys looked at by this scratch's closures (each dependent and each bound key, new or
    /// not): their work.
    var visits: Int { entries.visits }

    /// Readies the scratch for a closure over an index of `capacity` ids. `wave`: the index's
    /// revision, to go on with the open wave if its stamps were made on that revision (else a
    /// new wave starts); nil for a closure on its own.
    mutating func prepare(capacity: Int, wave revision: UInt64?) {
        entries.prepare(capacity: capacity, newWave: revision == nil || revision != wave)
        wave = revision
    }
}

extension InstanceIndexState {
    enum ClosureRoot {
        /// `name`: `entity#id`, the closure's root.
        case entity(entity: String, id: String, attrs: [String: String], name: String)
        case key(service: String, key: String)
        /// A key another partition's share reached (`name`: `service/key` or `Entity#id`): only
        /// its registered dependents, those held here; `skip` holds the `StableNameHash`es of what
        /// the shares before named for the same root, reached already.
        case hop(name: String, skip: Set<UInt64>)

        var isEntity: Bool {
            if case .entity = self { return true }
            return false
        }
    }

    /// Breadth-first over registered dependents and template bindings; the visited stamps
    /// make cycles harmless and give each key once, at its shortest depth.
    /// `scratch` must be prepared (`ClosureScratch.prepare`): keys stamped with its generation
    /// count as reached already.
    func closure(from root: ClosureRoot, binder: TemplateBinder?, scratch: inout ClosureScratch) -> InstanceClosure {
        let rootName = scratch.start(root, index: self, binder: binder)
        var head = 0
        while head < scratch.entries.count {
            scratch.expand(head, index: self, binder: binder)
            head += 1
        }
        return scratch.finish(root: rootName)
    }
}
