/// One closure in the making (`InstanceIndexState.closure`): the result so far and the
/// scratch it works in, with the index's tables it reads. `visit` lists a registered
/// dependent, `visitBound` a key a template binds, `expand` goes one entry further.
///
/// It holds the tables themselves, not the index state: a copy of the state (a dozen array
/// references) per closure showed in the profile.
struct ClosureWalk {
    private let names: NameInterner
    private let keyFamilies: [UInt32]
    private let dependents: [ContiguousArray<UInt32>]
    private let keySpans: [UInt32: [TemplateBinder.ValueSpan]]
    private let binder: TemplateBinder?
    private let generation: UInt32
    /// Moved in from the caller's for the walk, and back by `finish`.
    var scratch: ClosureScratch
    private(set) var slots: [InstanceClosure.Slot] = []
    private var nameBytes: [UInt8] = []
    private var unresolved: [String] = []
    /// By entry index: for bound entries whose family others bind to, the family number and
    /// the first of their parameters' spans in `boundSpans` (family 0 otherwise), so bound
    /// keys are never re-parsed.
    private var bound: [(family: UInt32, firstSpan: Int32)] = []
    private var boundSpans: [TemplateBinder.ValueSpan] = []

    /// The id of bound keys nobody registered.
    private static let notIndexed = UInt32.max

    init(index: borrowing InstanceIndexState, binder: TemplateBinder?, scratch: inout ClosureScratch) {
        names = index.names
        keyFamilies = index.keyFamilies
        dependents = index.dependents
        keySpans = index.keySpans
        self.binder = binder
        generation = scratch.generation
        self.scratch = ClosureScratch()
        swap(&self.scratch, &scratch)
        swap(&bound, &self.scratch.bound)
        swap(&boundSpans, &self.scratch.boundSpans)
        bound.removeAll(keepingCapacity: true)
        boundSpans.removeAll(keepingCapacity: true)
        nameBytes.reserveCapacity(self.scratch.lastNameBytes)
        slots.reserveCapacity(self.scratch.lastSlots)
    }

    /// Lists what the root reaches directly; returns the root's name.
    mutating func start(
        _ root: InstanceIndexState.ClosureRoot, spelling: inout TemplateBinder.Spelling, source: inout [UInt8]
    ) -> String {
        let rootName: String
        let binder = self.binder
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
        var name = rootName
        if let rootID = name.withUTF8({ names.find($0) }) {
            // Marked first, so a cycle back to the root does not list it.
            scratch.stamps[Int(rootID)] = generation
            for entry in dependents[Int(rootID)] { visit(entry, depth: 1, parent: -1) }
        } else if case .key = root {
            _ = name.withUTF8 { scratch.unregistered.intern($0) }
        }
        return rootName
    }

    /// Lists what entry `head` reaches: its registered dependents, then the keys templates
    /// bind from it.
    mutating func expand(_ head: Int, spelling: inout TemplateBinder.Spelling, source: inout [UInt8]) {
        let id = scratch.ids[head]
        let depth = Int(slots[head].depth) + 1
        if id != Self.notIndexed {
            for entry in dependents[Int(id)] { visit(entry, depth: depth, parent: head) }
        }
        guard let binder else { return }
        // Bound entries keep the family they were bound as; registered ones use the family
        // resolved when their name was interned: no template matching here. A bound entry
        // without values has a family nobody binds to, whatever family its name was
        // registered under. (The emit closure is a literal, so it stays on the stack.)
        var family: UInt32 = 0
        var spans: ArraySlice<TemplateBinder.ValueSpan> = []
        let (boundFamily, firstSpan) = bound[head]
        if boundFamily != 0 {
            family = boundFamily
            let first = Int(firstSpan)
            spans = boundSpans[first..<first + binder.parameterCount(number: family)]
        } else if slots[head].reason != .bound, id != Self.notIndexed, binder.hasFamilyRules(number: keyFamilies[Int(id)]),
                  let registered = keySpans[id] {
            family = keyFamilies[Int(id)]
            spans = registered[...]
        }
        guard family != 0 else { return }
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

    /// The result; the scratch goes back to the caller, sized for the next closure.
    consuming func finish(root: String, into caller: inout ClosureScratch) -> InstanceClosure {
        // Capped: one huge closure should not make every later one reserve as much.
        scratch.lastSlots = min(4096, max(16, slots.count))
        scratch.lastNameBytes = min(131_072, max(256, nameBytes.count))
        // Through a local: two of this walk's own properties cannot be swapped in place.
        var back = ClosureScratch()
        swap(&back, &scratch)
        swap(&bound, &back.bound)
        swap(&boundSpans, &back.boundSpans)
        swap(&back, &caller)
        return InstanceClosure(root: root, nameBytes: nameBytes, slots: slots, unresolved: unresolved)
    }

    private mutating func append(
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

    /// A registered dependent (`entry`: its id and whether the graph declares the edge).
    private mutating func visit(_ entry: UInt32, depth: Int, parent: Int) {
        scratch.visits &+= 1
        let id = entry & InstanceIndexState.idMask
        guard scratch.stamps[Int(id)] != generation else { return }
        scratch.stamps[Int(id)] = generation
        let reason: InstanceClosure.Entry.Reason = entry & InstanceIndexState.undeclaredBit == 0 ? .registered : .undeclared
        let circular = binder?.isCircular(number: keyFamilies[Int(id)]) ?? false
        let hash = names.hash(of: id)
        names.withBytes(of: id) {
            append($0, hash: hash, depth: depth, parent: parent, reason: reason, circular: circular)
        }
        bound.append((0, -1))
        scratch.ids.append(id)
    }

    /// A key `family`'s template binds, spelled `spelled`, with its parameters' `spans`.
    private mutating func visitBound(
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
            scratch.ids.append(Self.notIndexed)
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
}
