/// Open-addressing hash table of entry pointers with linear probing and backward-shift
/// deletion (no tombstones). Each slot costs 12 bytes: the low 32 bits of the key's hash,
/// compared before the entry is touched, and the entry pointer. Not thread-safe: a shard
/// owns one and calls it under its lock.
final class EntryTable {
    /// Kept behind a pointer rather than in stored properties: class properties pay a dynamic
    /// exclusivity check on every access, which showed in profiles of the lookup loop.
    private struct State {
        var capacity: Int
        var count: Int
        var mask: Int
        var hashes: UnsafeMutablePointer<UInt32>
        var entries: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    }

    private let state: UnsafeMutablePointer<State>

    private(set) var capacity: Int {
        @inline(__always) get { state.pointee.capacity }
        set { state.pointee.capacity = newValue }
    }
    private(set) var count: Int {
        @inline(__always) get { state.pointee.count }
        set { state.pointee.count = newValue }
    }
    private var mask: Int {
        @inline(__always) get { state.pointee.mask }
        set { state.pointee.mask = newValue }
    }
    private var hashes: UnsafeMutablePointer<UInt32> {
        @inline(__always) get { state.pointee.hashes }
        set { state.pointee.hashes = newValue }
    }
    private var entries: UnsafeMutablePointer<UnsafeMutableRawPointer?> {
        @inline(__always) get { state.pointee.entries }
        set { state.pointee.entries = newValue }
    }

    static let minimumCapacity = 16

    init(capacity: Int = EntryTable.minimumCapacity) {
        let hashes = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        let entries = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: capacity)
        entries.initialize(repeating: nil, count: capacity)
        hashes.initialize(repeating: 0, count: capacity)
        state = .allocate(capacity: 1)
        state.initialize(to: State(capacity: capacity, count: 0, mask: capacity - 1, hashes: hashes, entries: entries))
    }

    deinit {
        hashes.deallocate()
        entries.deallocate()
        state.deallocate()
    }

    var byteSize: Int { capacity * 12 }

    @inline(__always)
    func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        let tag = UInt32(truncatingIfNeeded: hash)
        var slot = Int(tag) & mask
        while let pointer = entries[slot] {
            if hashes[slot] == tag && Entry(pointer).keyEquals(key) { return slot }
            slot = (slot &+ 1) & mask
        }
        return nil
    }

    @inline(__always)
    func entry(at slot: Int) -> Entry? {
        entries[slot].map(Entry.init)
    }

    /// Puts a new entry whose key is known to be absent. Grows at 3/4 load.
    func insert(_ entry: Entry, hash: UInt64) {
        if (count + 1) * 4 > capacity * 3 { resize(to: capacity * 2) }
        place(entry.base, tag: UInt32(truncatingIfNeeded: hash))
        count += 1
    }

    func replace(at slot: Int, with entry: Entry) {
        entries[slot] = entry.base
    }

    /// Removes the entry at `slot` and returns it; later entries of the probe run shift back
    /// so lookups never need tombstones.
    @discardableResult
    func remove(at slot: Int) -> Entry? {
        guard let removed = entries[slot] else { return nil }
        var hole = slot
        var next = slot
        while true {
            next = (next &+ 1) & mask
            guard let pointer = entries[next] else { break }
            let ideal = Int(hashes[next]) & mask
            // The entry at `next` may fill the hole unless its ideal slot lies cyclically in (hole, next].
            let staysPut = hole <= next ? (ideal > hole && ideal <= next) : (ideal > hole || ideal <= next)
            if !staysPut {
                entries[hole] = pointer
                hashes[hole] = hashes[next]
                hole = next
            }
        }
        entries[hole] = nil
        count -= 1
        if capacity > EntryTable.minimumCapacity && count * 8 < capacity { resize(to: capacity / 2) }
        return Entry(removed)
    }

    /// Calls `body` for every entry and empties the table.
    func removeAll(_ body: (Entry) -> Void) {
        for slot in 0..<capacity {
            if let pointer = entries[slot] { body(Entry(pointer)) }
        }
        hashes.deallocate()
        entries.deallocate()
        capacity = EntryTable.minimumCapacity
        mask = capacity - 1
        hashes = .allocate(capacity: capacity)
        entries = .allocate(capacity: capacity)
        entries.initialize(repeating: nil, count: capacity)
        hashes.initialize(repeating: 0, count: capacity)
        count = 0
    }

    private func place(_ pointer: UnsafeMutableRawPointer, tag: UInt32) {
        var slot = Int(tag) & mask
        while entries[slot] != nil { slot = (slot &+ 1) & mask }
        entries[slot] = pointer
        hashes[slot] = tag
    }

    private func resize(to newCapacity: Int) {
        let oldHashes = hashes
        let oldEntries = entries
        let oldCapacity = capacity
        capacity = newCapacity
        mask = newCapacity - 1
        hashes = .allocate(capacity: newCapacity)
        entries = .allocate(capacity: newCapacity)
        entries.initialize(repeating: nil, count: newCapacity)
        hashes.initialize(repeating: 0, count: newCapacity)
        for slot in 0..<oldCapacity {
            if let pointer = oldEntries[slot] { place(pointer, tag: oldHashes[slot]) }
        }
        oldHashes.deallocate()
        oldEntries.deallocate()
    }
}
