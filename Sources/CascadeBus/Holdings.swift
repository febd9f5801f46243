import CascadeKafka
import CascadeWire

/// The partitions a `ShareFollower` holds, and how far each is read: a plain value under its lock.
struct Holdings {
    typealias Waiter = CheckedContinuation<Bool, Never>
    let depsTopic: String

    struct Holding {
        var generation: Int
        /// Its owner's, or a standby's.
        var owned: Bool
        /// Per state topic, the next offset to read once it is read up to where it ended at the gain.
        var ends: [String: Int64] = [:]
        var read: [String: Int64] = [:]
        /// Registrations from this offset on are produced as edge records; never for a standby.
        var routedFrom: Int64 = .max
        /// A promoted standby reads its registrations again from `routedFrom`: until a message
        /// below this offset (read before the seek) arrives, what the consumer delivers is the
        /// old stream, past registrations not produced yet, and must not count as routed.
        var rereadBelow: Int64?
        var isReading = false
        var isRebuilt = false
        /// The memory of recent invalidations covers the partition: records are checked as they land.
        var isChecking = false
        /// Records that landed since the gain, before checking started.
        var unchecked: [EdgeRecord] = []
        var waiters: [Waiter] = []

        var caughtUp: Bool { ends.allSatisfy { read[$0.key, default: 0] >= $0.value } }
    }

    private(set) var byPartition: [Int32: Holding] = [:]
    private var generations = 0
    private var stopped = false
    var isStopped: Bool { stopped }

    init(depsTopic: String) {
        self.depsTopic = depsTopic
    }

    func generation(of partition: Int32) -> Int? { byPartition[partition]?.generation }

    enum Start {
        case new(generation: Int)
        /// Held already; `promoted`: it was a standby's until now.
        case held(generation: Int, promoted: Bool)
    }

    mutating func holding(_ partition: Int32, owned: Bool) -> Start {
        if var holding = byPartition[partition] {
            let promoted = owned && !holding.owned
            holding.owned = holding.owned || owned
            byPartition[partition] = holding
            return .held(generation: holding.generation, promoted: promoted)
        }
        generations += 1
        byPartition[partition] = Holding(generation: generations, owned: owned)
        return .new(generation: generations)
    }

    mutating func uncheckedLanded(_ partition: Int32, _ record: EdgeRecord) {
        guard byPartition[partition]?.isChecking == false else { return }
        byPartition[partition]?.unchecked.append(record)
    }

    /// Checking starts: the records that landed before, to check now, the last of each key only.
    /// An earlier one is a value the key's node has replaced since: judged stale by a ledger that
    /// moved on meanwhile, it would drop the key's current value, and what was computed from it.
    mutating func startChecking(_ partition: Int32, generation: Int) -> [EdgeRecord] {
        guard var holding = byPartition[partition], holding.generation == generation else { return [] }
        holding.isChecking = true
        defer { holding.unchecked = []; byPartition[partition] = holding }
        return Self.lastOfEachKey(holding.unchecked)
    }

    static func lastOfEachKey(_ records: [EdgeRecord]) -> [EdgeRecord] {
        var last: [CacheKeyRef: Int] = [:]
        for (position, record) in records.enumerated() { last[record.key] = position }
        return records.indices.filter { last[records[$0].key] == $0 }.map { records[$0] }
    }

    mutating func demote(_ partition: Int32) {
        byPartition[partition]?.owned = false
        byPartition[partition]?.routedFrom = .max
    }

    /// A promoted standby produces the routes of registrations from `offset` on. True when it
    /// has read past that offset, so must read from there again; false when it does not read
    /// the partition yet (its rebuild then starts producing from the committed offset) or has
    /// not got that far.
    mutating func produceRoutes(_ partition: Int32, generation: Int, from offset: Int64) -> Bool {
        guard var holding = byPartition[partition], holding.generation == generation, holding.owned, holding.isReading else { return false }
        holding.routedFrom = offset
        let readTo = holding.read[depsTopic, default: 0]
        if readTo > offset {
            // Committing `readTo` now would vouch for registrations routed only as a standby's.
            holding.rereadBelow = readTo
            holding.read[depsTopic] = offset
        }
        byPartition[partition] = holding
        return readTo > offset
    }

    /// The ends are known: reading starts. False when the partition was lost meanwhile.
    /// `committed`: how far its registrations were routed, from where an owner produces.
    mutating func rebuilding(_ partition: Int32, generation: Int, ends: [PartitionWatermarks], committed: Int64) -> Bool {
        guard !stopped, var holding = byPartition[partition], holding.generation == generation else { return false }
        for end in ends where end.high > end.low { holding.ends[end.topic] = end.high }
        holding.routedFrom = holding.owned ? committed : .max
        holding.isReading = true
        byPartition[partition] = holding
        return true
    }

    /// Returns the answer now if there is one; otherwise the waiter is resumed later.
    /// `onRebuilt` hears a partition the moment it is rebuilt, under the lock `end` takes: the
    /// share counts it as held from then on (not before: closures would take its edges for
    /// whole, and hand none of its keys on, while they are still being read).
    mutating func wait(_ partition: Int32, generation: Int, _ waiter: Waiter, onRebuilt: (Int32) -> Void) -> Bool? {
        guard !stopped, var holding = byPartition[partition], holding.generation == generation else { return false }
        // Rebuilt once is rebuilt: a promoted standby reading its registrations again from an
        // earlier offset is behind its ends, and nothing would wake a waiter of a rebuilt partition.
        if holding.isRebuilt { return true }
        if holding.caughtUp {
            onRebuilt(partition)
            holding.isRebuilt = true
            byPartition[partition] = holding
            return true
        }
        holding.waiters.append(waiter)
        byPartition[partition] = holding
        return nil
    }

    /// Notes how far a batch read; returns the waiters of partitions now rebuilt.
    mutating func read(_ positions: [(topic: String, partition: Int32, next: Int64)], onRebuilt: (Int32) -> Void) -> [(Waiter, Bool)] {
        for position in positions {
            if position.topic == depsTopic, let below = byPartition[position.partition]?.rereadBelow {
                // Still the stream from before the seek: those registrations come again.
                guard position.next - 1 < below else { continue }
                byPartition[position.partition]?.rereadBelow = nil
            }
            byPartition[position.partition]?.read[position.topic] = position.next
        }
        var finished: [(Waiter, Bool)] = []
        for (partition, var holding) in byPartition where holding.isReading && !holding.isRebuilt && holding.caughtUp && !holding.waiters.isEmpty {
            holding.isRebuilt = true
            onRebuilt(partition)
            finished += holding.waiters.map { ($0, true) }
            holding.waiters = []
            byPartition[partition] = holding
        }
        return finished
    }

    /// Stops holding `partition`: its waiters, and whether its topics were being read; nil when
    /// it was not held.
    mutating func end(_ partition: Int32) -> (waiters: [Waiter], wasReading: Bool)? {
        byPartition.removeValue(forKey: partition).map { ($0.waiters, $0.isReading) }
    }

    mutating func stop() -> [Waiter] {
        stopped = true
        defer { for key in byPartition.keys { byPartition[key]?.waiters = [] } }
        return byPartition.values.flatMap(\.waiters)
    }

    /// Where registrations are routed up to, in the partitions rebuilt.
    func routedPositions() -> [(partition: Int32, next: Int64)] {
        byPartition.compactMap { partition, holding in
            guard holding.isRebuilt, holding.owned, holding.routedFrom != .max, let next = holding.read[depsTopic] else { return nil }
            return (partition, next)
        }
    }
}
