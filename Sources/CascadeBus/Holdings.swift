import CascadeKafka
import CascadeWire

/// The partitions a `ShareFollower` holds, and how far each is read: a plain value under its lock.
///
/// Only a partition's owner judges the edge records landing there (`EdgeLandingCheck`): its
/// memory of recent invalidations covers the partition's keys, since every other share hands
/// those keys on to it as hops (a standby's share does too: it counts only owned partitions as
/// held). So a judgment needs the owner's memory, and a record no owner judged is judged by the
/// next one: owners commit how far they judged, and a new owner judges the records from there,
/// once it has read back what every instance invalidated lately.
struct Holdings {
    typealias Waiter = CheckedContinuation<Bool, Never>
    let depsTopic: String
    let edgesTopic: String

    /// An edge record landed here that no owner is known to have judged yet.
    struct Landed {
        var offset: Int64
        var record: EdgeRecord
    }

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
        /// Its owner judges records as they land: its memory covers the partition.
        var isJudging = false
        /// What was kept until judging started is judged and delivered: how far the edges are
        /// read is how far they are judged, which may be committed.
        var judgedKept = false
        /// Records from this offset of the edges topic on are kept until judged: where the
        /// owners' judgments were committed at the gain (or where the topic ended, with none).
        var keepFrom: Int64 = .max
        /// Records landed while not judging, with when each was read: a standby keeps the last
        /// minute's, for the promotion that makes it judge them.
        var kept = LatelyKept<Landed>(horizonMillis: Holdings.keptMillis, limit: Holdings.keptLimit)
        var waiters: [Waiter] = []

        var caughtUp: Bool { ends.allSatisfy { read[$0.key, default: 0] >= $0.value } }
    }

    /// Longer than any owner goes without committing how far it judged: its rebuild (up to
    /// half a minute on the embedded broker under load) and a failover. The limit bounds a
    /// standby's memory of them (a few MB per partition).
    static let keptMillis: Int64 = 60_000
    static let keptLimit = 20_000

    private(set) var byPartition: [Int32: Holding] = [:]
    private var generations = 0
    private var stopped = false
    var isStopped: Bool { stopped }

    init(depsTopic: String, edgesTopic: String) {
        self.depsTopic = depsTopic
        self.edgesTopic = edgesTopic
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

    /// Keeps the records of `partition` that landed unjudged; returns them instead when its
    /// owner started judging since they were read, to be judged now.
    mutating func landed(_ partition: Int32, _ records: [Landed], atMillis: Int64) -> [EdgeRecord] {
        guard var holding = byPartition[partition] else { return [] }
        if holding.isJudging { return records.map(\.record) }
        byPartition[partition] = nil
        let from = holding.keepFrom
        holding.kept.append(contentsOf: records.lazy.filter { $0.offset >= from }, atMillis: atMillis)
        byPartition[partition] = holding
        return []
    }

    func owns(_ partition: Int32, generation: Int) -> Bool {
        byPartition[partition].map { $0.generation == generation && $0.owned } ?? false
    }

    /// Whether `partition` waits for its owner to start judging: owned, rebuilt, not judging.
    func awaitsJudging(_ partition: Int32, generation: Int) -> Bool {
        guard let holding = byPartition[partition], holding.generation == generation else { return false }
        return holding.owned && holding.isRebuilt && !holding.isJudging
    }

    /// Its owner starts judging: the records kept from `committed` on (where the owners'
    /// judgments were committed; nil: where the keeping started), the last of each key only.
    /// An earlier one is a value the key's node has replaced since: judged stale by a ledger
    /// that moved on meanwhile, it would drop the key's current value, and what was computed
    /// from it. Nil when another caller started judging first, or the partition is not owned.
    mutating func startJudging(_ partition: Int32, generation: Int, from committed: Int64?) -> [EdgeRecord]? {
        guard awaitsJudging(partition, generation: generation), var holding = byPartition[partition] else { return nil }
        byPartition[partition] = nil
        holding.isJudging = true
        let from = committed ?? holding.keepFrom
        let pending = holding.kept.elements.filter { $0.offset >= from }.map(\.record)
        holding.kept.removeAll()
        byPartition[partition] = holding
        return Self.lastOfEachKey(pending)
    }

    /// What `startJudging` returned is judged, its messages delivered.
    mutating func judgedKept(_ partition: Int32, generation: Int) {
        guard byPartition[partition]?.generation == generation, byPartition[partition]?.isJudging == true else { return }
        byPartition[partition]?.judgedKept = true
    }

    static func lastOfEachKey(_ records: [EdgeRecord]) -> [EdgeRecord] {
        var last: [CacheKeyRef: Int] = [:]
        for (position, record) in records.enumerated() { last[record.key] = position }
        return records.indices.filter { last[records[$0].key] == $0 }.map { records[$0] }
    }

    /// Its owner now elsewhere, a partition held stays warm: it keeps what lands from here on
    /// for its next promotion, which judges it.
    mutating func demote(_ partition: Int32) {
        guard var holding = byPartition[partition] else { return }
        holding.owned = false
        holding.routedFrom = .max
        holding.isJudging = false
        holding.judgedKept = false
        holding.keepFrom = holding.read[edgesTopic, default: 0]
        byPartition[partition] = holding
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
    /// `judged`: how far the owners' judgments of its edge records were committed, if ever.
    mutating func rebuilding(
        _ partition: Int32, generation: Int, ends: [PartitionWatermarks], committed: Int64, judged: Int64?
    ) -> Bool {
        guard !stopped, var holding = byPartition[partition], holding.generation == generation else { return false }
        for end in ends where end.high > end.low { holding.ends[end.topic] = end.high }
        let edgesEnd = holding.ends[edgesTopic, default: 0]
        // With no commit, no owner ever judged here (a system new to partitioned state): what
        // is there is history, not a backlog of records waiting to be judged.
        holding.keepFrom = min(judged ?? edgesEnd, edgesEnd)
        holding.routedFrom = holding.owned ? committed : .max
        holding.isReading = true
        byPartition[partition] = holding
        return true
    }

    /// Returns the answer now if there is one; otherwise the waiter is resumed later.
    /// `onRebuilt` hears an owned partition the moment it is rebuilt, under the lock `end`
    /// takes: the share counts it as held from then on (not before: closures would take its
    /// edges for whole, and hand none of its keys on, while they are still being read).
    mutating func wait(_ partition: Int32, generation: Int, _ waiter: Waiter, onRebuilt: (Int32) -> Void) -> Bool? {
        guard !stopped, var holding = byPartition[partition], holding.generation == generation else { return false }
        // Rebuilt once is rebuilt: a promoted standby reading its registrations again from an
        // earlier offset is behind its ends, and nothing would wake a waiter of a rebuilt partition.
        if holding.isRebuilt { return true }
        if holding.caughtUp {
            if holding.owned { onRebuilt(partition) }
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
            if holding.owned { onRebuilt(partition) }
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

    /// What an owner commits: how far registrations are routed (in `depsTopic`), in the
    /// partitions rebuilt, and how far records are judged (in `edgesTopic`), in those judging.
    func committable() -> [(topic: String, partition: Int32, next: Int64)] {
        byPartition.flatMap { partition, holding -> [(topic: String, partition: Int32, next: Int64)] in
            guard holding.owned, holding.isRebuilt else { return [] }
            var positions: [(topic: String, partition: Int32, next: Int64)] = []
            if holding.routedFrom != .max, let next = holding.read[depsTopic] { positions.append((depsTopic, partition, next)) }
            if holding.judgedKept, let next = holding.read[edgesTopic] { positions.append((edgesTopic, partition, next)) }
            return positions
        }
    }
}
