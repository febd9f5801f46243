/// Where a pooled list lies: `count` in the low 27 bits, the room's size class (room =
/// 1 << class) in the top 5; an empty list holds no block. Eight bytes, so it fits in whatever
/// per-id record owns the list.
struct ListRef {
    var start: UInt32 = 0
    var packed: UInt32 = 0

    var count: Int { Int(packed & Self.countMask) }
    var isEmpty: Bool { packed & Self.countMask == 0 }
    var sizeClass: Int { Int(packed >> 27) }
    static let countMask: UInt32 = (1 << 27) - 1
}

/// Short lists of ids (a key's dependencies, a name's dependents) in one pool instead of a
/// heap array each: a heap array costs a 32-byte header and an allocation, more than most of
/// these lists hold (a key has a few dependencies; most names have one or two dependents). A
/// list's room is a power of two; a full list moves to a block twice as big, and freed blocks
/// are reused by size. The caller keeps each list's `ListRef`, where it reads it anyway.
struct ListPool {
    /// Most ids one list holds.
    static let maxCount = Int(ListRef.countMask)

    private var pool: [UInt32] = []
    /// By size class: the first freed block, whose first slot holds the next one's start
    /// (`noBlock` ends the chain): free blocks need no memory of their own.
    private var freeBlocks = [UInt32](repeating: noBlock, count: 28)
    private static let noBlock = UInt32.max

    /// The list `ref` points at, as a slice of the pool: let it go before changing any list
    /// here, or the change copies the whole pool.
    subscript(ref: ListRef) -> ArraySlice<UInt32> {
        pool[Int(ref.start)..<Int(ref.start) + ref.count]
    }

    /// Calls `body` with the list `ref` points at, in place: the closure's hot path, where a
    /// slice would retain and release the pool for each list read.
    func withList<R>(_ ref: ListRef, _ body: (UnsafeBufferPointer<UInt32>) -> R) -> R {
        pool.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[Int(ref.start)..<Int(ref.start) + ref.count])) }
    }

    mutating func append(_ value: UInt32, to ref: inout ListRef) {
        let count = ref.count
        precondition(count < Self.maxCount, "one name's list of ids is limited to \(Self.maxCount)")
        if count == 0 || count == 1 << ref.sizeClass {
            let sizeClass = count == 0 ? 0 : ref.sizeClass + 1
            let start = take(sizeClass)
            if count > 0 {
                let old = Int(ref.start)
                for offset in 0..<count { pool[Int(start) + offset] = pool[old + offset] }
                give(ref.start, ref.sizeClass)
            }
            ref.start = start
            ref.packed = UInt32(sizeClass) << 27 | UInt32(count)
        }
        pool[Int(ref.start) + count] = value
        ref.packed += 1
    }

    /// Sets the list to `values`, in a block just big enough.
    mutating func replace(_ ref: inout ListRef, with values: some Collection<UInt32>) {
        removeAll(&ref)
        let count = values.count
        guard count > 0 else { return }
        precondition(count <= Self.maxCount, "one name's list of ids is limited to \(Self.maxCount)")
        let sizeClass = Int.bitWidth - (count - 1).leadingZeroBitCount
        let start = take(sizeClass)
        var at = Int(start)
        for value in values {
            pool[at] = value
            at += 1
        }
        ref = ListRef(start: start, packed: UInt32(sizeClass) << 27 | UInt32(count))
    }

    /// Empties the list, freeing its block.
    mutating func removeAll(_ ref: inout ListRef) {
        guard ref.count > 0 else { return }
        give(ref.start, ref.sizeClass)
        ref = ListRef()
    }

    /// Removes the first value `matches` accepts, putting the last one in its place (order
    /// does not matter, only membership); false when none is there.
    @discardableResult
    mutating func removeFirst(_ ref: inout ListRef, where matches: (UInt32) -> Bool) -> Bool {
        let start = Int(ref.start)
        let count = ref.count
        guard let position = (start..<start + count).first(where: { matches(pool[$0]) }) else { return false }
        if count == 1 {
            removeAll(&ref)
        } else {
            pool[position] = pool[start + count - 1]
            ref.packed -= 1
        }
        return true
    }

    /// A free block of size class `sizeClass`.
    private mutating func take(_ sizeClass: Int) -> UInt32 {
        let free = freeBlocks[sizeClass]
        if free != Self.noBlock {
            freeBlocks[sizeClass] = pool[Int(free)]
            return free
        }
        let start = pool.count
        precondition(start + (1 << sizeClass) <= Int(UInt32.max), "the index's lists are limited to 4G ids")
        pool.reserveGently(1 << sizeClass)
        pool.append(contentsOf: repeatElement(0, count: 1 << sizeClass))
        return UInt32(start)
    }

    /// Puts the block at `start` first in its size class's chain of free blocks.
    private mutating func give(_ start: UInt32, _ sizeClass: Int) {
        pool[Int(start)] = freeBlocks[sizeClass]
        freeBlocks[sizeClass] = start
    }

    /// Bytes held, for the memory figures.
    var footprint: Int { pool.capacity * 4 }
}

/// A pooled list for every id below `count`, with the refs kept here: for lists read rarely
/// (a key's dependencies, read when it registers again), where a record of their own costs
/// nothing.
struct PooledLists {
    private var lists = ListPool()
    private var refs: [ListRef] = []

    /// Lists kept: one per id below it.
    var count: Int { refs.count }

    /// Adds empty lists until there is one for every id below `ids`.
    mutating func grow(to ids: Int) {
        guard refs.count < ids else { return }
        refs.reserveGently(ids - refs.count)
        refs.append(contentsOf: repeatElement(ListRef(), count: ids - refs.count))
    }

    /// List `id`, as a slice of the pool (see `ListPool.subscript`).
    subscript(id: Int) -> ArraySlice<UInt32> { lists[refs[id]] }

    func isEmpty(_ id: Int) -> Bool { refs[id].isEmpty }

    mutating func append(_ value: UInt32, to id: Int) { lists.append(value, to: &refs[id]) }

    mutating func replace(_ id: Int, with values: some Collection<UInt32>) { lists.replace(&refs[id], with: values) }

    mutating func removeAll(_ id: Int) { lists.removeAll(&refs[id]) }

    @discardableResult
    mutating func removeFirst(_ id: Int, where matches: (UInt32) -> Bool) -> Bool {
        lists.removeFirst(&refs[id], where: matches)
    }

    /// Removes every value `matches` accepts.
    mutating func removeAll(_ id: Int, where matches: (UInt32) -> Bool) {
        while removeFirst(id, where: matches) {}
    }

    var footprint: Int { lists.footprint + refs.capacity * MemoryLayout<ListRef>.stride }
}
