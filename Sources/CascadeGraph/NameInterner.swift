import Foundation

/// Interns names (`Entity#id`, `service/key`) as dense `UInt32` ids without a `String` per
/// name: bytes live in one arena, an open-addressing table (linear probing) maps bytes to ids.
/// Ids of removed names are reused; the arena is compacted when half of it is dead.
///
/// Each id's record can carry a `Payload` of the user's beside the name's place and hash (the
/// index keeps a key's family and dependents there), so that what a walk reads of one name
/// lies in one cache line.
struct NameInterner<Payload: NamePayload> {
    /// Where a name's bytes lie in the arena, with its hash and payload: one record per id, so
    /// reading a name touches one cache line, not one per field.
    private struct Record {
        var hash: UInt64
        var start: UInt32
        var length: UInt32
        var payload: Payload
    }

    private(set) var arena: [UInt8] = []
    private var records: [Record] = []
    /// 0 = empty, otherwise the top half of the name's hash above id + 1: a probe compares the
    /// tag in the slot before it reads the name's record, so a miss costs one cache line.
    private var slots: [UInt64] = Array(repeating: 0, count: 1024)
    private var freeIDs: [UInt32] = []
    private var deadBytes = 0
    private(set) var liveCount = 0

    /// One past the highest id ever handed out: the size of per-id arrays.
    var capacity: Int { records.count }

    static var removedMark: UInt32 { UInt32.max }

    func isLive(_ id: UInt32) -> Bool { records[Int(id)].length != Self.removedMark }

    private static func slotEntry(id: UInt32, hash: UInt64) -> UInt64 { (hash & 0xFFFF_FFFF_0000_0000) | UInt64(id + 1) }

    func find(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32? {
        find(bytes, hash: NameHash.of(bytes)).id
    }

    /// `hash` must be `NameHash.of(bytes)` (a caller that needs the hash anyway passes it).
    func find(_ bytes: UnsafeBufferPointer<UInt8>, hash: UInt64) -> (id: UInt32?, slot: Int) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        let tag = hash & 0xFFFF_FFFF_0000_0000
        return arena.withUnsafeBufferPointer { arena in
            while true {
                let entry = slots[slot]
                if entry == 0 { return (nil, slot) }
                if entry & 0xFFFF_FFFF_0000_0000 == tag {
                    let id = UInt32(truncatingIfNeeded: entry) - 1
                    let record = records[Int(id)]
                    if record.hash == hash, Int(record.length) == bytes.count {
                        guard let stored = arena.baseAddress, let wanted = bytes.baseAddress else { return (id, slot) }
                        if memcmp(stored + Int(record.start), wanted, bytes.count) == 0 { return (id, slot) }
                    }
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
        arena.reserveGently(bytes.count)
        arena.append(contentsOf: bytes)
        let record = Record(hash: hash, start: start, length: UInt32(bytes.count), payload: Payload())
        let id: UInt32
        if let reused = freeIDs.popLast() {
            id = reused
            records[Int(id)] = record
        } else {
            id = UInt32(records.count)
            records.reserveGently(1)
            records.append(record)
        }
        slots[slot] = Self.slotEntry(id: id, hash: hash)
        liveCount += 1
        // Grow past 70% load: a probe compares tags, 8 to a cache line, so chains that long
        // stay cheap, and the table is the biggest array of one entry per name.
        if liveCount * 10 > slots.count * 7 { rehash(to: slots.count * 2) }
        return (id, true)
    }

    mutating func remove(_ id: UInt32) {
        guard isLive(id) else { return }
        let index = Int(id)
        let mask = slots.count - 1
        let entry = Self.slotEntry(id: id, hash: records[index].hash)
        var slot = Int(truncatingIfNeeded: records[index].hash) & mask
        while slots[slot] != entry { slot = (slot + 1) & mask }
        // Backward-shift deletion keeps every chain unbroken without tombstones.
        var hole = slot
        var next = (hole + 1) & mask
        while slots[next] != 0 {
            let home = Int(truncatingIfNeeded: records[Int(UInt32(truncatingIfNeeded: slots[next]) - 1)].hash) & mask
            let distanceHome = (next - home) & mask
            let distanceHole = (next - hole) & mask
            if distanceHome >= distanceHole {
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = 0
        deadBytes += Int(records[index].length)
        records[index].length = Self.removedMark
        freeIDs.append(id)
        liveCount -= 1
        if deadBytes > 4096, deadBytes * 2 > arena.count { compact() }
    }

    /// Forgets every name, keeping the storage: for a scratch set of names reused from
    /// closure to closure.
    mutating func removeAll() {
        guard !records.isEmpty else { return }
        arena.removeAll(keepingCapacity: true)
        records.removeAll(keepingCapacity: true)
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
        let record = records[Int(id)]
        let start = Int(record.start)
        let length = Int(record.length)
        return arena.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[start..<start + length])) }
    }

    /// `NameHash` of the name `id` stands for.
    func hash(of id: UInt32) -> UInt64 { records[Int(id)].hash }

    /// What the user keeps beside name `id`; a new or reused id starts with `Payload()`.
    subscript(payload id: UInt32) -> Payload {
        get { records[Int(id)].payload }
        _modify { yield &records[Int(id)].payload }
    }

    func name(of id: UInt32) -> String {
        withBytes(of: id) { String(decoding: $0, as: UTF8.self) }
    }

    private mutating func rehash(to size: Int) {
        var fresh = [UInt64](repeating: 0, count: size)
        let mask = size - 1
        for (id, record) in records.enumerated() where record.length != Self.removedMark {
            var slot = Int(truncatingIfNeeded: record.hash) & mask
            while fresh[slot] != 0 { slot = (slot + 1) & mask }
            fresh[slot] = Self.slotEntry(id: UInt32(id), hash: record.hash)
        }
        slots = fresh
    }

    private mutating func compact() {
        var fresh: [UInt8] = []
        fresh.reserveCapacity(arena.count - deadBytes)
        for id in records.indices where records[id].length != Self.removedMark {
            let start = Int(records[id].start)
            records[id].start = UInt32(fresh.count)
            fresh.append(contentsOf: arena[start..<start + Int(records[id].length)])
        }
        arena = fresh
        deadBytes = 0
    }

    /// Bytes held, for the memory figures of the benchmark.
    var footprint: Int {
        arena.capacity + records.capacity * MemoryLayout<Record>.stride + slots.capacity * 8 + freeIDs.capacity * 4
    }
}

/// What `NameInterner` keeps beside each name: plain bits, empty when an id is handed out.
protocol NamePayload: BitwiseCopyable {
    init()
}

/// No payload: a set of names.
struct NoPayload: NamePayload {}

typealias NameSet = NameInterner<NoPayload>
