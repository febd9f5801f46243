@testable import CascadeBus
import Testing

/// Ownership among simulated instances that exchange beacons every 100 ms, on a clock of
/// their own: no Kafka, no sleeping.
struct OwnershipNetwork {
    static let partitions = (0..<12).map { "cascade.events:\($0)" }
    var machines: [String: PartitionOwnership] = [:]
    var alive: Set<String> = []
    var now: Int64 = 1_000_000

    mutating func start(_ id: String, ready: Bool = true, gatesOnWarmth: Bool = false) {
        var machine = PartitionOwnership(me: id, deadAfterMillis: 500, nowMillis: now)
        machine.gatesOnWarmth = gatesOnWarmth
        machine.setPartitions(Self.partitions)
        if ready { machine.becameReady() }
        machines[id] = machine
        alive.insert(id)
    }

    mutating func kill(_ id: String) { alive.remove(id) }

    /// One beacon round: every live machine's beacon reaches every live machine, then each
    /// decides. Returns every change decided.
    @discardableResult
    mutating func round() -> [String: PartitionOwnership.Change] {
        now += 100
        let beacons = alive.sorted().compactMap { id in
            machines[id].map { BeaconView(instance: id, ready: $0.ready, owned: $0.owned.sorted(), warm: $0.warm.sorted()) }
        }
        var changes: [String: PartitionOwnership.Change] = [:]
        for id in alive {
            for beacon in beacons { machines[id]?.heard(beacon, atMillis: now) }
            changes[id] = machines[id]?.decide(nowMillis: now)
        }
        return changes
    }

    mutating func rounds(_ count: Int) { for _ in 0..<count { round() } }

    /// Every live machine has rebuilt what it owns and stands by for.
    mutating func warmUp() {
        for id in alive {
            guard let machine = machines[id] else { continue }
            machines[id]?.setWarm(machine.owned.union(machine.standby(nowMillis: now)))
        }
    }

    /// One round in which only `hearing`'s beacons get through, each to itself alone (the
    /// broker just back for them); the rest hear nothing. Returns every change decided.
    mutating func roundHeardOnlyBy(_ hearing: Set<String>) -> [String: PartitionOwnership.Change] {
        now += 100
        var changes: [String: PartitionOwnership.Change] = [:]
        for id in alive {
            if hearing.contains(id), let machine = machines[id] {
                machines[id]?.heard(BeaconView(instance: id, ready: machine.ready, owned: machine.owned.sorted()), atMillis: now)
            }
            changes[id] = machines[id]?.decide(nowMillis: now)
        }
        return changes
    }

    /// Owners of each partition among live machines.
    func owners() -> [String: [String]] {
        var result: [String: [String]] = [:]
        for id in alive.sorted() {
            for partition in machines[id]?.owned ?? [] { result[partition, default: []].append(id) }
        }
        return result
    }

    func everyPartitionHasExactlyOneOwner() -> Bool {
        let owners = owners()
        return Self.partitions.allSatisfy { owners[$0]?.count == 1 }
    }
}

@Suite struct PartitionOwnershipTests {
    @Test func instancesShareThePartitionsAndAgree() {
        var network = OwnershipNetwork()
        for id in ["a", "b", "c"] { network.start(id) }
        network.rounds(8)
        #expect(network.everyPartitionHasExactlyOneOwner(), "\(network.owners())")
        let shares = ["a", "b", "c"].map { network.machines[$0]?.owned.count ?? 0 }
        #expect(shares.allSatisfy { $0 >= 1 }, "each instance owns some: \(shares)")
    }

    @Test func aKilledInstancesPartitionsMoveWithinDeadAfterAndOneRound() {
        for victim in ["a", "b", "c"] {
            var network = OwnershipNetwork()
            for id in ["a", "b", "c"] { network.start(id) }
            network.rounds(8)
            let before = network.owners()
            network.kill(victim)
            // 500 ms without a beacon, then the next decision: at most 6 rounds of 100 ms.
            network.rounds(6)
            #expect(network.everyPartitionHasExactlyOneOwner(), "after killing \(victim): \(network.owners())")
            // Only the victim's partitions moved.
            for (partition, owners) in before where owners != [victim] {
                #expect(network.owners()[partition] == owners, "\(partition) moved although its owner lived")
            }
        }
    }

    @Test func aTakeoverFromASilentInstanceIsToldApart() {
        var network = OwnershipNetwork()
        for id in ["a", "b"] { network.start(id) }
        network.rounds(8)
        let victimShare = network.machines["b"]?.owned ?? []
        let lastHeardOfB = network.now
        network.kill("b")
        var takenFromGone: Set<String> = []
        var goneSince: Int64?
        for _ in 0..<6 {
            network.now += 100
            let beacon = network.machines["a"].map { BeaconView(instance: "a", ready: true, owned: $0.owned.sorted()) }!
            network.machines["a"]?.heard(beacon, atMillis: network.now)
            let change = network.machines["a"]?.decide(nowMillis: network.now)
            takenFromGone.formUnion(change?.takenFromGone ?? [])
            goneSince = goneSince ?? change?.goneSinceMillis
        }
        #expect(takenFromGone == victimShare && !victimShare.isEmpty)
        #expect(goneSince == lastHeardOfB, "registrations read since b was last heard are checked again")
    }

    @Test func aJoiningInstanceTakesOnlyItsShareAndARestartGetsItsOwnBack() {
        var network = OwnershipNetwork()
        for id in ["a", "b"] { network.start(id) }
        network.rounds(8)
        let twoOwners = network.owners()
        network.start("c")
        network.rounds(8)
        #expect(network.everyPartitionHasExactlyOneOwner())
        let threeOwners = network.owners()
        for (partition, owners) in threeOwners where owners != ["c"] {
            #expect(twoOwners[partition] == owners, "\(partition) moved between a and b")
        }
        // c restarts under the same name: it gets exactly its partitions back.
        network.kill("c")
        network.rounds(8)
        network.start("c")
        network.rounds(8)
        #expect(network.owners() == threeOwners)
    }

    @Test func anInstanceNotReadyOwnsNothingAndOneAloneOwnsEverything() {
        var network = OwnershipNetwork()
        network.start("a")
        network.start("b", ready: false)
        network.rounds(8)
        #expect(network.machines["b"]?.owned.isEmpty == true)
        #expect(network.machines["a"]?.owned.count == OwnershipNetwork.partitions.count)
        #expect(network.machines["a"]?.unowned(nowMillis: network.now).isEmpty == true)
    }

    @Test func anInstanceThatCannotHearItselfLetsGo() {
        var network = OwnershipNetwork()
        for id in ["a", "b"] { network.start(id) }
        network.rounds(8)
        // a's beacons stop reaching anyone (a cut off from the broker), but a still runs.
        var isolated = network.machines["a"]!
        network.kill("a")
        network.rounds(6)
        isolated.heard(BeaconView(instance: "b", ready: true, owned: []), atMillis: network.now - 600)
        let change = isolated.decide(nowMillis: network.now)
        #expect(isolated.owned.isEmpty && !change.lost.isEmpty, "a fences itself")
        #expect(network.machines["b"]?.owned.count == OwnershipNetwork.partitions.count)
    }

    @Test func theFirstToHearItselfAfterAnOutageTakesNothingFromThoseAsDeafAsIt() {
        var network = OwnershipNetwork()
        for id in ["a", "b", "c"] { network.start(id) }
        network.rounds(8)
        let before = network.owners()
        // The broker stops for 4 s: nobody hears anybody, everybody lets go.
        for _ in 0..<40 { _ = network.roundHeardOnlyBy([]) }
        #expect(network.owners().isEmpty)
        // It comes back; a hears itself a round before the others hear anything.
        let changes = network.roundHeardOnlyBy(["a"])
        #expect(changes["a"]?.takenFromGone.isEmpty == true, "b and c were as deaf as a, not gone")
        #expect(Set(changes["a"]?.gained ?? []) == Set(before.filter { $0.value == ["a"] }.keys), "a takes its own share only")
        network.rounds(3)
        #expect(network.owners() == before)
    }

    @Test func anInstanceThatDoesNotComeBackAfterAnOutageIsTakenOverFrom() {
        var network = OwnershipNetwork()
        for id in ["a", "b", "c"] { network.start(id) }
        network.rounds(8)
        let cShare = network.machines["c"]?.owned ?? []
        for _ in 0..<40 { _ = network.roundHeardOnlyBy([]) }
        network.kill("c")
        var takenFromGone: Set<String> = []
        for _ in 0..<7 { takenFromGone.formUnion(network.round().values.flatMap(\.takenFromGone)) }
        #expect(network.everyPartitionHasExactlyOneOwner(), "\(network.owners())")
        #expect(takenFromGone == cShare && !cShare.isEmpty, "c's share is taken over, as from a gone instance")
    }

    @Test func noDecisionBeforeARoundOfBeaconsCouldBeHeard() {
        var machine = PartitionOwnership(me: "a", deadAfterMillis: 500, nowMillis: 0)
        machine.setPartitions(OwnershipNetwork.partitions)
        machine.becameReady()
        machine.heard(BeaconView(instance: "a", ready: true, owned: []), atMillis: 100)
        #expect(machine.decide(nowMillis: 100).isEmpty)
        #expect(machine.decide(nowMillis: 500).gained.count == OwnershipNetwork.partitions.count)
    }

    @Test func rendezvousScoresAreTheSameInEveryProcess() {
        // Fixed values: Hasher's per-process seed must never enter the score.
        #expect(PartitionOwnership.owner(of: "cascade.events:3", among: ["bus-0", "bus-1", "bus-2"]) == PartitionOwnership.owner(
            of: "cascade.events:3", among: ["bus-2", "bus-0", "bus-1"]))
        #expect(PartitionOwnership.score("bus-0", "cascade.events:0") == 0x7406_aeaa_e17e_aaae, "computed independently (FNV-1a, splitmix)")
    }

    @Test("every partition has one standby besides its owner, and a killed owner's partitions go to their standbys")
    func standbysTakeOver() throws {
        var network = OwnershipNetwork()
        for id in ["bus-a", "bus-b", "bus-c"] { network.start(id) }
        network.rounds(8)
        var standbys: [String: [String]] = [:]
        for id in network.alive.sorted() {
            for partition in network.machines[id]?.standby(nowMillis: network.now) ?? [] { standbys[partition, default: []].append(id) }
        }
        let owners = network.owners()
        for partition in OwnershipNetwork.partitions {
            #expect(standbys[partition]?.count == 1, "\(partition) has one standby: \(standbys[partition] ?? [])")
            #expect(standbys[partition] != owners[partition], "\(partition)'s standby is not its owner")
        }
        let victim = try #require(owners.values.first?.first)
        let expected = OwnershipNetwork.partitions.filter { owners[$0] == [victim] }.map { ($0, standbys[$0] ?? []) }
        network.kill(victim)
        network.rounds(8)
        let after = network.owners()
        for (partition, standby) in expected {
            #expect(after[partition] == standby, "\(partition) went to its standby \(standby): \(after[partition] ?? [])")
        }
        // A lone instance stands by for nothing: it owns everything.
        var alone = OwnershipNetwork()
        alone.start("bus-a")
        alone.rounds(8)
        #expect(alone.machines["bus-a"]?.standby(nowMillis: alone.now).isEmpty == true)
    }

    @Test("with partitioned state a restarted instance stands by for its partitions and takes them back only once warm")
    func takeBackWaitsForWarmth() throws {
        var network = OwnershipNetwork()
        let ids = ["bus-a", "bus-b", "bus-c"]
        for id in ids { network.start(id, gatesOnWarmth: true) }
        network.rounds(8)
        network.warmUp()
        network.rounds(2)
        let settled = network.owners()
        let victims = OwnershipNetwork.partitions.filter { settled[$0] == ["bus-c"] }
        try #require(!victims.isEmpty)
        network.kill("bus-c")
        network.rounds(8)
        network.warmUp()
        network.rounds(2)
        let interim = network.owners()
        #expect(network.everyPartitionHasExactlyOneOwner())

        network.start("bus-c", gatesOnWarmth: true)
        network.rounds(8)
        #expect(network.owners() == interim, "kept where they are while bus-c is cold")
        let warming = try #require(network.machines["bus-c"]?.standby(nowMillis: network.now))
        #expect(Set(victims).isSubset(of: warming), "bus-c stands by for what it will take back: \(warming.sorted())")

        network.machines["bus-c"]?.setWarm(warming)
        network.rounds(3)
        #expect(network.owners() == settled, "taken back once warm, each partition by one owner")
    }
}
