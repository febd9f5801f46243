import CascadeGraph
import CascadeKafka
import CascadeWire
import Foundation

/// What `cascade bench chaos` prints after the run, each part returning the floors it missed.
extension BenchChaosCommand {
    /// Stale entries by kind after quiescence, and how many keys are present at the end.
    func reportAudit(_ verdict: ChaosVerdict) async throws -> Outcome {
        var misses: [String] = []
        let audits = try await verdict.audit()
        printLine("")
        printLine("kind        keys checked   stale after quiescence")
        for audit in audits {
            printLine(audit.kind.name.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: " %13d %8d", audit.keys, audit.stale))
        }
        for audit in audits where audit.stale > 0 {
            misses.append("\(audit.stale) stale \(audit.kind.name) entries")
            for example in audit.examples { printLine("  stale \(audit.kind.name): \(example)") }
        }
        // What the system knows of each, for whoever reads the report.
        for key in audits.flatMap(\.exampleKeys).prefix(3) {
            printLine("cascade why \(key):")
            for line in await verdict.why(key) { printLine("    " + line) }
        }
        // Whether the cache can hold values at all: an invalidation storm leaves few.
        let present = audits.reduce(0) { $0 + $1.keys }
        printLine("keys present at the end: \(present) of \(ChaosVerdict.families.count * verdict.truth.products) "
            + "(after 5 s of readers alone and quiescence)")
        return Outcome(misses: misses, keysPresent: present)
    }

    /// The stale-read windows outside faults, over the whole run with its faults (the broker
    /// phase apart), in the broker phase, and everything.
    func reportWindows(_ verdict: ChaosVerdict, reads: [ChaosRead], injector: ChaosFaultInjector) -> [String] {
        var misses: [String] = []
        let started = injector.started
        printLine("")
        printLine("fault periods: " + injector.periods.map {
            String(format: "%@ %.1f-%.1f s", $0.name as NSString, Double($0.start &- started) / 1e9, Double($0.end &- started) / 1e9)
        }.joined(separator: ", "))
        if let phase = injector.brokerPhase {
            printLine(String(format: "broker phase: %.1f-%.1f s", Double(phase.lowerBound &- started) / 1e9, Double(phase.upperBound &- started) / 1e9))
        }
        printLine("stale-read window ms        hits    stale       p50       p99       max  >1s old  of hits")
        func rows(_ name: String, _ set: ChaosVerdict.WindowSet, everything: Bool) {
            let label = name.padding(toLength: 10, withPad: " ", startingAt: 0)
            printLine(label + " outside faults " + set.outside.row)
            printLine(label + " whole run      " + set.whole.row)
            if injector.brokerPhase != nil { printLine(label + " broker phase   " + set.brokerPhase.row) }
            if everything, injector.brokerPhase != nil { printLine(label + " everything     " + set.everything.row) }
        }
        for kind in ChaosKind.allCases {
            rows(kind.name, verdict.windows(reads, faults: injector.periods, brokerPhase: injector.brokerPhase, kind: kind), everything: false)
        }
        let all = verdict.windows(reads, faults: injector.periods, brokerPhase: injector.brokerPhase)
        rows("all", all, everything: true)
        printLine("(whole run: every hit but the broker phase's, bus kills and the node restart included)")
        misses += judgeOutside(all.outside, verdict, reads: reads, injector: injector)
        misses += judgeWholeRun(all.whole)
        let placed = verdict.beyondSecondByPeriod(reads, faults: injector.periods, brokerPhase: injector.brokerPhase)
        if !placed.isEmpty { printLine("  by period: " + placed.map { "\($0.0) \($0.1)" }.joined(separator: ", ")) }
        if let staleness = verdict.cluster.stalenessInEffect, let bound = TTLDuration.milliseconds(staleness) {
            let beyond = all.everything.stale.filter { $0 > Double(bound) }.count
            printLine("reads older than their truth by more than \(staleness): \(beyond)")
            for line in verdict.readsBeyond(reads, millis: Double(bound), started: started).prefix(5) { printLine("  " + line) }
            if beyond > 0 { misses.append("\(beyond) reads beyond --max-staleness \(staleness)") }
        }
        return misses
    }

    /// The stale-read window outside faults: p99 below `windowFloorMs`; when not, when the
    /// worst hits happened, to set beside the faults and the buses' logs.
    private func judgeOutside(_ outside: ChaosVerdict.Windows, _ verdict: ChaosVerdict, reads: [ChaosRead], injector: ChaosFaultInjector) -> [String] {
        let p99 = outside.percentile(0.99)
        guard windowFloorMs > 0, p99 >= windowFloorMs else { return [] }
        let started = injector.started
        let calm = reads.filter { read in !injector.periods.contains { $0.contains(read.at) } }
        var bySecond: [Int: Int] = [:]
        for read in calm {
            guard let superseded = verdict.truth.supersededAt(Int(read.product), version: read.version), superseded < read.at,
                  Double(read.at - superseded) / 1e6 >= windowFloorMs else { continue }
            bySecond[Int((read.at &- started) / 1_000_000_000), default: 0] += 1
        }
        printLine("stale hits outside faults at or above the floor, by second of the run: "
            + bySecond.sorted { $0.key < $1.key }.map { "\($0.key) s: \($0.value)" }.joined(separator: ", "))
        for line in verdict.readsBeyond(calm, millis: p99, started: started).prefix(3) { printLine("  " + line) }
        return [String(format: "stale-read window p99 %.1f ms outside faults (floor < %.0f ms)", p99, windowFloorMs)]
    }

    /// Hits of a value superseded more than 1 s before, over the whole run: judged unless the
    /// only bus is killed, which stops every invalidation until its restart is ready.
    private func judgeWholeRun(_ whole: ChaosVerdict.Windows) -> [String] {
        let share = String(format: "%.2f%% of hits (%d of %d) superseded more than 1 s before", whole.beyondSecondShare, whole.beyondSecond, whole.reads)
        guard buses >= 2 || busKills == 0 else {
            printLine("whole run: \(share); not judged: with one bus instance nothing is resolved from its SIGKILL until its "
                + "restart is ready (the floor of \(supersededFloorPercent)% needs --buses 2 or more)")
            return []
        }
        printLine("whole run: \(share) (floor ≤ \(supersededFloorPercent)%)")
        guard whole.beyondSecondShare <= supersededFloorPercent else {
            return [String(format: "whole run %.2f%% of hits superseded more than 1 s before (floor ≤ %g%%)", whole.beyondSecondShare, supersededFloorPercent)]
        }
        return []
    }

    /// Each kill's time until invalidations flowed again on every partition, and the max:
    /// judged with two instances or more; with one, it is the restart's time.
    func reportFailovers(_ failovers: [ChaosFailover]) -> [String] {
        guard let worst = failovers.map(\.millis).max() else { return [] }
        printLine("")
        printLine("bus kill   owned partitions   invalidations flowing again on all \(ChaosCluster.partitions) partitions")
        for failover in failovers {
            let owned = failover.owned.map { String($0) }.joined(separator: ",")
            printLine(ChaosCluster.busName(failover.instance).padding(toLength: 10, withPad: " ", startingAt: 0) + " "
                + owned.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: " %8.0f ms", failover.millis))
        }
        guard buses >= 2 else {
            printLine(String(format: "failover max %.0f ms: with one bus instance, bounded by its restart (rebuild, then taking "
                + "the partitions); not judged (the floor of %.0f ms needs --buses 2 or more)", worst, failoverFloorMs))
            return []
        }
        printLine(String(format: "failover max %.0f ms (floor ≤ %.0f ms)", worst, failoverFloorMs))
        guard worst <= failoverFloorMs else {
            return [String(format: "invalidations flowed again %.0f ms after a bus kill (floor ≤ %.0f ms)", worst, failoverFloorMs)]
        }
        return []
    }

    /// `cascade check` must pass now, and fail naming the key once a stale value is planted.
    func auditCheck(verdict: ChaosVerdict, producer: KafkaProducer, topics: Topics, injector: ChaosFaultInjector) async throws -> [String] {
        var misses: [String] = []
        printLine("")
        let clean = try await verdict.check()
        printLine("cascade check after quiescence: exit \(clean.status)")
        for line in clean.lines.prefix(8) { printLine("  " + line) }
        if clean.status != 0 {
            misses.append("cascade check exited \(clean.status) after quiescence (floor 0)")
            printLine("on the run's clock (see the fault times above):")
            for line in await verdict.explain(clean.lines, started: injector.started, startedWallMillis: injector.startedWallMillis) {
                printLine("  " + line)
            }
        }
        let planted = try await verdict.plantStale(producer: producer, topics: topics)
        let caught = try await verdict.check()
        let naming = caught.lines.filter { $0.contains(planted) }
        printLine("cascade check with \(planted) planted: exit \(caught.status)")
        for line in naming.prefix(3) { printLine("  " + line) }
        if caught.status != 1 || naming.isEmpty { misses.append("cascade check did not catch the planted \(planted) (exit \(caught.status))") }
        return misses
    }
}
