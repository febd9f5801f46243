import Foundation

/// Interns names (`Entity#id`, `service/key`) as dense `UInt32` ids without a `String` per
/// name: bytes live in one arena, an open-addressing table (linear probing) maps bytes to ids.
/// Ids of removed names are reused; the arena is compacted when half of it is dead.
struct NameInterner {
    private(set) var arena: [UInt8] = []
    private var starts: [UInt32] = []
    private var lengths: [UInt32] = []
    /// `NameHash` of each name: the closure hands it on with the name.
    private var hashes: [UInt64] = []
    /// 0 = empty, otherwise id + 1.
    private var slots: [UInt32] = Array(repeating: 0, count: 1024)
    private var freeIDs: [UInt32] = []
    private var deadBytes = 0
    private(set) var liveCount = 0

    /// One past the highest id ever handed out: the size of per-id arrays.
    var capacity: Int { starts.count }

    static let removedMark = UInt32.max

    func isLive(_ id: UInt32) -> Bool { lengths[Int(id)] != Self.removedMark }

    func find(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32? {
        find(bytes, hash: NameHash.of(bytes)).id
    }

    /// `hash` must be `NameHash.of(bytes)` (a caller that needs the hash anyway passes it).
    func find(_ bytes: UnsafeBufferPointer<UInt8>, hash: UInt64) -> (id: UInt32?, slot: Int) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        return arena.withUnsafeBufferPointer { arena in
            while true {
                let entry = slots[slot]
                if entry == 0 { return (nil, slot) }
                let id = Int(entry - 1)
                if hashes[id] == hash, Int(lengths[id]) == bytes.count {
                    let start = Int(starts[id])
                    guard let stored = arena.baseAddress, let wanted = bytes.baseAddress else { return (entry - 1, slot) }
                    if memcmp(stored + start, wanted, bytes.count) == 0 { return (entry - 1, slot) }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// The id of `bytes`, adding it when new.
    mutating func intern(_ bytes: UnsafeBufferPointer<UInt8>) -> (id: UInt32, inserted: Bool) {
        let hash = NameHash.of(bytes)
        let (found, slot) = find(bytes, hash: hash)
        if let found { return (found, false) }
        let start = UInt32(truncatingIfNeeded: arena.count)
        arena.append(contentsOf: bytes)
        let id: UInt32
        if let reused = freeIDs.popLast() {
            id = reused
            starts[Int(id)] = start
            lengths[Int(id)] = UInt32(bytes.count)
            hashes[Int(id)] = hash
        } else {
            id = UInt32(starts.count)
            starts.append(start)
            lengths.append(UInt32(bytes.count))
            hashes.append(hash)
        }
        slots[slot] = id + 1
        liveCount += 1
        // Grow at 50% load so probe chains stay short.
        if liveCount * 2 > slots.count { rehash(to: slots.count * 2) }
        return (id, true)
    }

    mutating func remove(_ id: UInt32) {
        guard isLive(id) else { return }
        let index = Int(id)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hashes[index]) & mask
        while slots[slot] != id + 1 { slot = (slot + 1) & mask }
        // Backward-shift deletion keeps every chain unbroken without tombstones.
        var hole = slot
        var next = (hole + 1) & mask
        while slots[next] != 0 {
            let home = Int(truncatingIfNeeded: hashes[Int(slots[next] - 1)]) & mask
            let distanceHome = (next - home) & mask
            let distanceHole = (next - hole) & mask
            if distanceHome >= distanceHole {
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = 0
        deadBytes += Int(lengths[index])
        lengths[index] = Self.removedMark
        freeIDs.append(id)
        liveCount -= 1
        if deadBytes > 4096, deadBytes * 2 > arena.count { compact() }
    }

    /// Forgets every name, keeping the storage: for a scratch set of names reused from
    /// closure to closure.
    mutating func removeAll() {
        guard !starts.isEmpty else { return }
        arena.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        hashes.removeAll(keepingCapacity: true)
        freeIDs.removeAll(keepingCapacity: true)
        // Clearing costs the table's size: after an unusually big set, start small again.
        if slots.count > 16 * max(512, liveCount) {
            slots = Array(repeating: 0, count: 1024)
        } else {
            for slot in slots.indices { slots[slot] = 0 }
        }
        deadBytes = 0
        liveCount = 0
    }

    func withBytes<R>(of id: UInt32, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let start = Int(starts[Int(id)])
        let length = Int(lengths[Int(id)])
        return arena.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[start..<start + length])) }
    }

    /// `NameHash` of the name `id` stands for.
    func hash(of id: UInt32) -> UInt64 { hashes[Int(id)] }

    func name(of id: UInt32) -> String {
        withBytes(of: id) { String(decoding: $0, as: UTF8.self) }
    }

    private mutating func rehash(to size: Int) {
        var fresh = [UInt32](repeating: 0, count: size)
        let mask = size - 1
        for id in 0..<starts.count where lengths[id] != Self.removedMark {
            var slot = Int(truncatingIfNeeded: hashes[id]) & mask
            while fresh[slot] != 0 { slot = (slot + 1) & mask }
            fresh[slot] = UInt32(id) + 1
        }
        slots = fresh
    }

    private mutating func compact() {
        var fresh: [UInt8] = []
        fresh.reserveCapacity(arena.count - deadBytes)
        for id in 0..<starts.count where lengths[id] != Self.removedMark {
            let start = Int(starts[id])
            starts[id] = UInt32(fresh.count)
            fresh.append(contentsOf: arena[start..<start + Int(lengths[id])])
        }
        arena = fresh
        deadBytes = 0
    }

    /// Bytes held, for the memory figures of the benchmark.
    var footprint: Int {
        arena.capacity + (starts.capacity + lengths.capacity + slots.capacity + freeIDs.capacity) * 4 + hashes.capacity * 8
    }
}
