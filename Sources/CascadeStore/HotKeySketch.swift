/// Which keys of one shard are read most: a count-min sketch (two rows of saturating counters
/// indexed from the key's hash) estimates each key's hits, and a short list keeps the keys
/// whose estimate is highest. Counting a hit is two increments and, unless the estimate beats
/// the smallest one listed, one comparison. Not thread-safe: the shard calls it under its lock.
final class HotKeySketch {
    static let width = 1024
    static let capacity = 8

    struct Candidate {
        var hash: UInt64
        var key: [UInt8]
        var family: UInt16
        var hits: UInt32
    }

    private let counters: UnsafeMutablePointer<UInt32>
    private(set) var top: [Candidate] = []
    /// The smallest estimate in a full `top`; 0 while it has room.
    private var floor: UInt32 = 0

    init() {
        counters = .allocate(capacity: 2 * HotKeySketch.width)
        counters.initialize(repeating: 0, count: 2 * HotKeySketch.width)
    }

    deinit { counters.deallocate() }

    @inline(__always) private static func slots(_ hash: UInt64) -> (Int, Int) {
        // Remixed: the table uses the low bits of the hash and the store the high ones.
        let mixed = (hash ^ (hash >> 29)) &* 0xBF58_476D_1CE4_E5B9
        let mask = UInt64(width - 1)
        return (Int(truncatingIfNeeded: (mixed >> 20) & mask), width + Int(truncatingIfNeeded: (mixed >> 40) & mask))
    }

    /// Counts one hit of `key`; keeps it in the list if its estimate is among the highest.
    @inline(__always)
    func record(_ key: UnsafeRawBufferPointer, hash: UInt64, family: UInt16) {
        let (a, b) = HotKeySketch.slots(hash)
        if counters[a] != .max { counters[a] &+= 1 }
        if counters[b] != .max { counters[b] &+= 1 }
        let estimate = min(counters[a], counters[b])
        guard estimate > floor else { return }
        promote(key, hash: hash, family: family, estimate: estimate)
    }

    private func promote(_ key: UnsafeRawBufferPointer, hash: UInt64, family: UInt16, estimate: UInt32) {
        if let index = index(of: key, hash: hash) {
            top[index].hits = estimate
        } else if top.count < HotKeySketch.capacity {
            top.append(Candidate(hash: hash, key: Array(key), family: family, hits: estimate))
        } else if let coldest = top.indices.min(by: { top[$0].hits < top[$1].hits }) {
            top[coldest] = Candidate(hash: hash, key: Array(key), family: family, hits: estimate)
        }
        floor = top.count < HotKeySketch.capacity ? 0 : top.reduce(UInt32.max) { min($0, $1.hits) }
    }

    private func index(of key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        top.firstIndex { $0.hash == hash && $0.key.elementsEqual(key) }
    }

    /// The estimate of a listed key; nil when it is not among the hottest.
    func hits(of key: UnsafeRawBufferPointer, hash: UInt64) -> UInt32? {
        index(of: key, hash: hash).map { top[$0].hits }
    }

    /// Forgets a listed key (it is gone: invalidated, deleted, evicted or flushed).
    func forget(_ key: UnsafeRawBufferPointer, hash: UInt64) {
        guard let index = index(of: key, hash: hash) else { return }
        top.remove(at: index)
        floor = 0
    }

    /// Halves every counter and estimate, so that "hot" means read often lately.
    func decay() {
        for index in 0..<(2 * HotKeySketch.width) { counters[index] >>= 1 }
        for index in top.indices { top[index].hits >>= 1 }
        top.removeAll { $0.hits == 0 }
        floor = top.count < HotKeySketch.capacity ? 0 : top.reduce(UInt32.max) { min($0, $1.hits) }
    }

    func removeAll() {
        counters.update(repeating: 0, count: 2 * HotKeySketch.width)
        top = []
        floor = 0
    }
}
