import CascadeWire

/// The walk of one closure (`InstanceIndexState.closure`), breadth-first: `start` lists what
/// the root reaches, `expand` what one listed entry reaches, `finish` hands the entries over.
///
/// The walk works in the scratch in place, and reads the index and the binder as arguments,
/// not as copies: a walk type owning the scratch had to move it out again at the end, and the
/// optimiser copied it there (a retain and release per buffer per closure); holding the index's
/// tables made each visit retain them, as a closure capturing the index state copied all of it.
extension ClosureScratch {
    /// Lists the keys the root binds and its registered dependents; returns the root's name.
    mutating func start(_ root: InstanceIndexState.ClosureRoot, index: borrowing InstanceIndexState, binder: TemplateBinder?) -> String {
        entries.begin(reservingSlots: lastSlots, nameBytes: lastNameBytes)
        if !entries.skipping.isEmpty { entries.skipping = [] }
        let rootName: String
        // The emit closures are literals, so they stay on the stack.
        switch root {
        case .entity(let entity, let id, let attrs, let name):
            rootName = name
            binder?.keys(entity: entity, id: id, attrs: attrs, spelling: &spelling,
                         emit: { entries.visitBound($0, $1, $2, depth: 1, parent: -1, index: index, binder: binder) },
                         missing: { entries.unresolved.append($0) })
        case .key(let service, let key):
            rootName = service + "/" + key
            source.removeAll(keepingCapacity: true)
            source.append(contentsOf: rootName.utf8)
            source.withUnsafeBufferPointer { name in
                binder?.keys(service: service, key: key, name: name, spelling: &spelling,
                             emit: { entries.visitBound($0, $1, $2, depth: 1, parent: -1, index: index, binder: binder) })
            }
        case .hop(let name, let skip):
            rootName = name
            entries.skipping = skip
        }
        var name = rootName
        if let rootID = name.withUTF8({ index.names.find($0) }) {
            // Marked first, so a cycle back to the root does not list it.
            entries.mark(rootID)
            index.withDependents(of: rootID) {
                for entry in $0 { entries.visit(entry, depth: 1, parent: -1, index: index, binder: binder) }
            }
        } else if !root.isEntity {
            name.withUTF8 { entries.markUnregistered($0) }
        }
        return rootName
    }

    /// Lists what entry `head` reaches: its registered dependents, then the keys templates
    /// bind from it.
    mutating func expand(_ head: Int, index: borrowing InstanceIndexState, binder: TemplateBinder?) {
        let id = entries.ids[head]
        let depth = Int(entries.slots[head].depth) + 1
        if id != ClosureEntries.notIndexed {
            index.withDependents(of: id) {
                for entry in $0 { entries.visit(entry, depth: depth, parent: head, index: index, binder: binder) }
            }
        }
        guard let binder else { return }
        // Bound entries keep the family they were bound as; registered ones use the family
        // resolved when their name was interned: no template matching here. A bound entry
        // without values has a family nobody binds to, whatever family its name was
        // registered under.
        var family: UInt32 = 0
        sourceSpans.removeAll(keepingCapacity: true)
        let (boundFamily, firstSpan) = entries.bound[head]
        if boundFamily != 0 {
            family = boundFamily
            let first = Int(firstSpan)
            entries.boundSpans.withUnsafeBufferPointer {
                sourceSpans.append(contentsOf: UnsafeBufferPointer(rebasing: $0[first..<first + binder.parameterCount(number: family)]))
            }
        } else if entries.slots[head].reason != .bound, id != ClosureEntries.notIndexed,
                  binder.hasFamilyRules(number: index.family(of: id)), let registered = index.keySpans[id] {
            family = index.family(of: id)
            sourceSpans.append(contentsOf: registered)
        }
        guard family != 0 else { return }
        let slot = entries.slots[head]
        source.removeAll(keepingCapacity: true)
        entries.nameBytes.withUnsafeBufferPointer {
            source.append(contentsOf: UnsafeBufferPointer(rebasing: $0[Int(slot.start)..<Int(slot.start + slot.length)]))
        }
        source.withUnsafeBufferPointer { name in
            sourceSpans.withUnsafeBufferPointer { spans in
                binder.keys(
                    family: family, source: name, spans: spans, spelling: &spelling,
                    emit: { entries.visitBound($0, $1, $2, depth: depth, parent: head, index: index, binder: binder) })
            }
        }
    }

    /// The closure listed since `start`.
    mutating func finish(root: String) -> InstanceClosure {
        // Capped: one huge closure should not make every later one reserve as much.
        lastSlots = min(4096, max(16, entries.count))
        lastNameBytes = min(131_072, max(256, entries.nameBytes.count))
        return entries.takeClosure(root: root)
    }
}

/// The keys closures reached and the entries of the closure being listed, each key once:
/// `visit` lists a registered dependent, `visitBound` a key a template binds, unless it was
/// reached already. The marks last for a wave of closures (`InstanceIndex.ClosureWave`); the
/// entries go to each closure (`takeClosure`).
struct ClosureEntries {
    /// The id of a bound key nobody registered.
    static let notIndexed = UInt32.max

    /// By id: the generation of the last wave that reached it.
    private var stamps: [UInt32] = []
    private var generation: UInt32 = 0
    /// Bound keys nobody registered (they have no id), known by their bytes: checked before
    /// a String is made, and without hashing one.
    private var unregistered = NameSet()
    /// Keys looked at (each dependent and each bound key, new or not): the closures' work.
    private(set) var visits = 0
    /// By entry: its id, `notIndexed` for a key nobody registered.
    private(set) var ids: [UInt32] = []
    private(set) var nameBytes: [UInt8] = []
    private(set) var slots: [InstanceClosure.Slot] = []
    /// Bindings that could not be filled.
    var unresolved: [String] = []
    /// A hop's closure: the `StableNameHash`es of what the shares before named, neither listed
    /// nor expanded here.
    var skipping: Set<UInt64> = []
    /// By entry: for bound entries whose family others bind to, the family number and the
    /// first of their parameters' spans in `boundSpans` (family 0 otherwise), so bound keys
    /// are never re-parsed.
    private(set) var bound: [(family: UInt32, firstSpan: Int32)] = []
    private(set) var boundSpans: [TemplateBinder.ValueSpan] = []

    /// Entries listed so far.
    var count: Int { slots.count }

    /// Readies the marks for closures over an index of `capacity` ids; `newWave` forgets what
    /// earlier closures reached.
    mutating func prepare(capacity: Int, newWave: Bool) {
        if stamps.count < capacity { stamps.append(contentsOf: repeatElement(0, count: capacity - stamps.count)) }
        if newWave {
            generation &+= 1
            if generation == 0 {
                // Wrapped around: old stamps could collide with the new generation.
                for index in stamps.indices { stamps[index] = 0 }
                generation = 1
            }
            unregistered.removeAll()
        }
        ids.removeAll(keepingCapacity: true)
    }

    /// Starts a closure's entries, reserving as much as the last one needed.
    mutating func begin(reservingSlots slotCount: Int, nameBytes byteCount: Int) {
        bound.removeAll(keepingCapacity: true)
        boundSpans.removeAll(keepingCapacity: true)
        nameBytes.reserveCapacity(byteCount)
        slots.reserveCapacity(slotCount)
    }

    /// Whether the closures since the wave began reached `id`.
    func hasReached(_ id: UInt32) -> Bool { Int(id) < stamps.count && stamps[Int(id)] == generation }

    /// Whether they reached the key nobody registered spelled `name`.
    func hasReached(unregistered name: UnsafeBufferPointer<UInt8>) -> Bool { unregistered.find(name) != nil }

    /// Marks `id` reached without listing it (the root).
    mutating func mark(_ id: UInt32) {
        stamps[Int(id)] = generation
    }

    /// Marks the key nobody registered spelled `name` reached without listing it (the root).
    mutating func markUnregistered(_ name: UnsafeBufferPointer<UInt8>) {
        _ = unregistered.intern(name)
    }

    /// A registered dependent; `entry` is its id, with whether the graph declares the edge.
    mutating func visit(_ entry: UInt32, depth: Int, parent: Int, index: borrowing InstanceIndexState, binder: TemplateBinder?) {
        visits &+= 1
        let id = entry & InstanceIndexState.idMask
        guard stamps[Int(id)] != generation else { return }
        stamps[Int(id)] = generation
        if !skipping.isEmpty, index.names.withBytes(of: id, { skipping.contains(StableNameHash.of($0)) }) { return }
        let reason: InstanceClosure.Entry.Reason = entry & InstanceIndexState.undeclaredBit == 0 ? .registered : .undeclared
        let family = binder == nil ? 0 : index.family(of: id)
        let circular = binder?.isCircular(number: family) ?? false
        index.names.withBytes(of: id) {
            append($0, hash: index.names.hash(of: id), depth: depth, parent: parent, reason: reason, family: family, circular: circular)
        }
        bound.append((0, -1))
        ids.append(id)
    }

    /// A key the template of `family` binds, spelled `spelled`, with its parameters at `spans`.
    mutating func visitBound(
        _ family: UInt32, _ spelled: UnsafeBufferPointer<UInt8>, _ spans: UnsafeBufferPointer<TemplateBinder.ValueSpan>,
        depth: Int, parent: Int, index: borrowing InstanceIndexState, binder: TemplateBinder?
    ) {
        visits &+= 1
        if !skipping.isEmpty, skipping.contains(StableNameHash.of(spelled)) { return }
        let hash = NameHash.of(spelled)
        if let id = index.names.find(spelled, hash: hash).id {
            guard stamps[Int(id)] != generation else { return }
            stamps[Int(id)] = generation
            ids.append(id)
        } else {
            guard unregistered.intern(spelled).inserted else { return }
            ids.append(Self.notIndexed)
        }
        // A family others bind to may have no parameters at all (`dashboard` from
        // `top-products`): it is expanded all the same.
        if binder?.hasFamilyRules(number: family) != true {
            bound.append((0, -1))
        } else {
            bound.append((family, Int32(truncatingIfNeeded: boundSpans.count)))
            boundSpans.append(contentsOf: spans)
        }
        append(
            spelled, hash: hash, depth: depth, parent: parent, reason: .bound, family: family,
            circular: binder?.isCircular(number: family) ?? false)
    }

    private mutating func append(
        _ bytes: UnsafeBufferPointer<UInt8>, hash: UInt64, depth: Int, parent: Int, reason: InstanceClosure.Entry.Reason,
        family: UInt32, circular: Bool
    ) {
        let start = Int32(truncatingIfNeeded: nameBytes.count)
        let slash = bytes.firstIndex(of: UInt8(ascii: "/")).map { Int32(truncatingIfNeeded: $0) } ?? -1
        nameBytes.append(contentsOf: bytes)
        slots.append(.init(
            start: start, length: Int32(truncatingIfNeeded: bytes.count), slash: slash, depth: Int32(truncatingIfNeeded: depth),
            parent: Int32(truncatingIfNeeded: parent), family: UInt16(clamping: family), reason: reason, circular: circular, hash: hash))
    }

    /// The closure of the entries listed since `begin`; they are moved out, not copied (a
    /// buffer shared with the result would be copied at the next closure's first write).
    mutating func takeClosure(root: String) -> InstanceClosure {
        var names: [UInt8] = []
        var listed: [InstanceClosure.Slot] = []
        var missing: [String] = []
        swap(&names, &nameBytes)
        swap(&listed, &slots)
        swap(&missing, &unresolved)
        return InstanceClosure(root: root, nameBytes: names, slots: listed, unresolved: missing)
    }
}
