/// Which bus instance resolves which partition of the events topics, decided by each instance
/// alone from the beacons all of them send (`BusBeacon` on `cascade.buses`), with no group
/// coordinator in the way: the live, ready instances share the partitions by rendezvous
/// hashing, so every instance that hears the same beacons reaches the same answer, and an
/// instance joining or leaving moves only its own share.
///
/// An instance is live while its beacons keep arriving (`deadAfterMillis`), itself included:
/// one that stops hearing its own beacons (the broker is out of its reach) owns nothing, so
/// that the others, who still hear each other, take over without a second owner left behind.
/// While views differ (for about one beacon interval) a partition may have two owners: its
/// events are resolved twice, which idempotent invalidation allows; none is ever left without
/// one for longer than `deadAfterMillis` and a beacon interval.
///
/// With partitioned state (`gatesOnWarmth`) a partition moves to an instance only once that
/// instance holds its state rebuilt (`warm`, told in the beacons): a restarted instance first
/// stands by for the partitions it will take back, and its owner meanwhile keeps them, so their
/// events never wait for a rebuild while a warm instance is alive.
///
/// A plain value: `decide` returns what to start and stop reading; the shell
/// (`OwnershipDriver`) applies it. Tested without Kafka.
struct PartitionOwnership: Sendable {
    struct Peer: Sendable, Equatable {
        var ready: Bool
        var owned: Set<String>
        var heardAtMillis: Int64
        var admin: String?
        var registrations: Int
        /// Partitions whose state it holds rebuilt (partitioned state).
        var warm: Set<String> = []
    }

    /// What to do after a decision.
    struct Change: Sendable, Equatable {
        var gained: [String] = []
        var lost: [String] = []
        /// Of `gained`, those last owned by an instance now gone: what it had invalidated in
        /// its last moments is unknown here.
        var takenFromGone: [String] = []
        /// When the earliest of those instances was last heard: registrations read since then
        /// were checked without what it had invalidated, and are checked again.
        var goneSinceMillis: Int64?

        var isEmpty: Bool { gained.isEmpty && lost.isEmpty }
    }

    let me: String
    let deadAfterMillis: Int64
    /// Every partition of the events topics, as `topic:partition`.
    private(set) var partitions: [String] = []
    private(set) var owned: Set<String> = []
    private(set) var peers: [String: Peer] = [:]
    private(set) var ready = false
    /// Partitioned state: a partition goes only to an instance that holds it warm (or owns it).
    var gatesOnWarmth = false
    /// Partitioned state: the partitions whose state this instance holds rebuilt.
    private(set) var warm: Set<String> = []
    private var heardSelfAtMillis: Int64?
    /// When this instance heard itself again after a silence of its own (a broker outage):
    /// peers heard no later than that silence's start are not gone on that account alone; they
    /// were as deaf as this one, and the first to hear itself again would otherwise take every
    /// partition "from a gone instance" for a round, flooring its memory and checking again
    /// every registration read since before the outage.
    private var heardSelfAgainAtMillis: Int64 = .min
    /// No decision before a whole beacon round could be heard: an instance that has just
    /// started does not yet know its peers, and would take everything for a moment.
    private let listeningSinceMillis: Int64

    init(me: String, deadAfterMillis: Int64 = 500, nowMillis: Int64) {
        self.me = me
        self.deadAfterMillis = deadAfterMillis
        self.listeningSinceMillis = nowMillis
    }

    mutating func setPartitions(_ partitions: [String]) { self.partitions = partitions.sorted() }
    mutating func becameReady() { ready = true }
    mutating func setWarm(_ warm: Set<String>) { self.warm = warm }

    /// A beacon arrived (our own too: it proves the broker carries them).
    mutating func heard(_ beacon: BeaconView, atMillis: Int64) {
        if beacon.instance == me {
            if let last = heardSelfAtMillis, atMillis - last > deadAfterMillis { heardSelfAgainAtMillis = atMillis }
            heardSelfAtMillis = atMillis
            return
        }
        peers[beacon.instance] = Peer(
            ready: beacon.ready, owned: Set(beacon.owned), heardAtMillis: atMillis, admin: beacon.admin, registrations: beacon.registrations,
            warm: Set(beacon.warm))
    }

    /// An instance said goodbye (a clean stop): gone now, not after the timeout.
    mutating func left(_ instance: String) { peers[instance] = nil }

    /// Heard within `deadAfterMillis`, counted from when this instance heard itself again if
    /// that is later: a peer gets as long as this one to be heard after a shared silence.
    func isLive(_ peer: Peer, nowMillis: Int64) -> Bool {
        nowMillis - max(peer.heardAtMillis, heardSelfAgainAtMillis) <= deadAfterMillis
    }

    /// Live, ready instances, this one included while it hears itself.
    func liveReady(nowMillis: Int64) -> [String] {
        var ids = peers.filter { $0.value.ready && isLive($0.value, nowMillis: nowMillis) }.map(\.key)
        if ready, let heard = heardSelfAtMillis, nowMillis - heard <= deadAfterMillis { ids.append(me) }
        return ids
    }

    /// Brings `owned` in line with the owners (`owner(of:among:)`) among the live, ready instances.
    mutating func decide(nowMillis: Int64) -> Change {
        guard nowMillis - listeningSinceMillis >= deadAfterMillis else { return Change() }
        let live = liveReady(nowMillis: nowMillis)
        var change = Change()
        for partition in partitions {
            let mine = owner(of: partition, among: live) == me
            if mine && !owned.contains(partition) {
                change.gained.append(partition)
                let gone = peers.values.filter { $0.owned.contains(partition) && !isLive($0, nowMillis: nowMillis) }
                if let lastHeard = gone.map(\.heardAtMillis).min() {
                    change.takenFromGone.append(partition)
                    change.goneSinceMillis = min(change.goneSinceMillis ?? lastHeard, lastHeard)
                }
            } else if !mine && owned.contains(partition) {
                change.lost.append(partition)
            }
        }
        owned.formUnion(change.gained)
        owned.subtract(change.lost)
        // A gone instance's last word has served its purpose once its partitions are retaken;
        // counted on this instance's own hearing, so that a silence of its own forgets nobody.
        let hearing = heardSelfAtMillis ?? nowMillis
        peers = peers.filter { isLive($0.value, nowMillis: nowMillis) || hearing - $0.value.heardAtMillis <= 10 * deadAfterMillis }
        return change
    }

    /// The partitions this instance would own if their owner went: those where it comes second
    /// among the live, ready instances (partitioned state keeps their state warm, so a takeover
    /// does not wait for a rebuild). Empty before the first decision and while not ready.
    func standby(nowMillis: Int64) -> Set<String> {
        guard ready, nowMillis - listeningSinceMillis >= deadAfterMillis else { return [] }
        let live = liveReady(nowMillis: nowMillis)
        var standby = Set<String>()
        for partition in partitions where self.standby(of: partition, among: live) == me { standby.insert(partition) }
        return standby
    }

    /// The instance that resolves the partition: the first by rendezvous score among `live`;
    /// with `gatesOnWarmth`, the first of those that holds it warm or owns it (the first if
    /// none does), so that it moves only to an instance ready to resolve it at once.
    func owner(of partition: String, among live: [String]) -> String? {
        guard gatesOnWarmth else { return Self.owner(of: partition, among: live) }
        let ranked = live.sorted { Self.ranksBefore($0, $1, partition) }
        return ranked.first { isWarmOrOwning($0, partition) } ?? ranked.first
    }

    /// The instance that would own the partition if its owner went, and that keeps its state
    /// warm for that: the first by score after the owner. While a restarted instance has yet
    /// to take a partition back, that is the restarted instance: it warms up to take it.
    func standby(of partition: String, among live: [String]) -> String? {
        guard let owner = owner(of: partition, among: live) else { return nil }
        return Self.owner(of: partition, among: live.filter { $0 != owner })
    }

    private func isWarmOrOwning(_ instance: String, _ partition: String) -> Bool {
        if instance == me { return owned.contains(partition) || warm.contains(partition) }
        guard let peer = peers[instance] else { return false }
        return peer.owned.contains(partition) || peer.warm.contains(partition)
    }

    /// Partitions no live instance says it owns: resolved by nobody right now (for the alert).
    func unowned(nowMillis: Int64) -> [String] {
        var claimed = owned
        for peer in peers.values where isLive(peer, nowMillis: nowMillis) { claimed.formUnion(peer.owned) }
        return partitions.filter { !claimed.contains($0) }
    }

    /// The instance with the highest score for the partition (rendezvous hashing); nil when
    /// none is live. Only the instance's id and the partition's name enter the score, so
    /// every process computes the same owner.
    static func owner(of partition: String, among instances: [String]) -> String? {
        var best: String?
        for id in instances where best.map({ ranksBefore(id, $0, partition) }) ?? true { best = id }
        return best
    }

    /// Whether `a` comes before `b` for the partition: the higher score, on a tie the greater id.
    static func ranksBefore(_ a: String, _ b: String, _ partition: String) -> Bool {
        let (scoreA, scoreB) = (score(a, partition), score(b, partition))
        return scoreA != scoreB ? scoreA > scoreB : a > b
    }

    /// FNV-1a over both names, then a 64-bit finaliser (splitmix): stable across processes,
    /// unlike `Hasher`, which is seeded per process.
    static func score(_ instance: String, _ partition: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in instance.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ 0xff) &* 0x100_0000_01b3
        for byte in partition.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }
}

/// The parts of a beacon ownership reads (a `BusBeacon`, or a test's).
struct BeaconView: Sendable {
    var instance: String
    var ready: Bool
    var owned: [String]
    var admin: String? = nil
    var registrations: Int = 0
    var warm: [String] = []
}
