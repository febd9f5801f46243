import CascadeClient
import Foundation

/// `cascade check --watch` run beside the truth: its violations set against the truth's stale
/// reads older than the race window.
///
/// The two measure the same thing only where invalidations are sent on time. The watcher
/// judges what a node did with an invalidation it was sent: a value stored before it and still
/// there a window later. A stale read that lasts because the invalidation itself came late (the
/// broker stopped, the only bus instance restarting) is not a node's violation, and the
/// watcher, which starts its window when the invalidation is sent, does not count it. So the
/// figure judged is the truth's outside fault periods; the whole run's is printed beside it.
struct ChaosWatchComparison {
    /// What the watcher's /metrics said after quiescence.
    var checked: Double
    var violations: Double
    var unchecked: Double
    /// Sampled keys whose invalidation was sent more than the window after its event.
    var late: Double
    var sampleRate: Double
    /// Violations named in its log, by whether the invalidation was sent outside faults.
    var loggedOutside: Int
    var loggedInFaults: Int
    /// Distinct stale values (kind, product, version) read more than the window after the truth
    /// superseded them: outside faults, and over the run but for the broker phase.
    var truthOutside: Int
    var truthWhole: Int

    /// The watcher's violations outside faults (as its log names them) scaled up to every key,
    /// to set against the truth's outside faults; and the sampling error of that estimate (3
    /// standard deviations of a binomial sample of the truth's count, at least 1).
    var estimate: Double { sampleRate > 0 ? Double(loggedOutside) / sampleRate : 0 }
    var tolerance: Double {
        guard sampleRate > 0, sampleRate < 1 else { return 1 }
        return max(1, 3 * (Double(max(truthOutside, 1)) * (1 - sampleRate) / sampleRate).squareRoot())
    }
    var agrees: Bool { abs(estimate - Double(truthOutside)) <= tolerance }

    /// Stale values the truth saw read more than `windowMillis` after they were superseded.
    static func truthEpisodes(
        _ reads: [ChaosRead], truth: ChaosTruth, windowMillis: Int, faults: [ChaosFaultPeriod], brokerPhase: ClosedRange<UInt64>?
    ) -> (outside: Int, whole: Int) {
        struct Episode: Hashable {
            var kind: Int
            var product: Int32
            var version: UInt64
        }
        var outside = Set<Episode>()
        var whole = Set<Episode>()
        let window = UInt64(windowMillis) * 1_000_000
        for read in reads where brokerPhase?.contains(read.at) != true {
            guard let superseded = truth.supersededAt(Int(read.product), version: read.version), read.at > superseded + window else { continue }
            let episode = Episode(kind: read.kind.rawValue, product: read.product, version: read.version)
            whole.insert(episode)
            // Outside faults: the value was superseded, and read, with no fault going on.
            if !faults.contains(where: { $0.contains(read.at) || $0.contains(superseded) }) { outside.insert(episode) }
        }
        return (outside.count, whole.count)
    }

    /// The `invalidated_at_ms` of every violation line of the watcher's log.
    static func loggedViolations(_ log: String) -> [Int64] {
        log.split(separator: "\n").filter { $0.contains("consistency violation:") }.compactMap { line in
            guard let range = line.range(of: "invalidated_at_ms=") else { return nil }
            return Int64(line[range.upperBound...].prefix { $0.isNumber })
        }
    }
}

extension ChaosCluster {
    /// Starts `cascade check --watch` on both nodes, every key sampled at `sample`, and waits
    /// until it follows both invalidation topics; returns its metrics URL.
    func startWatch(sample: Double, windowMillis: Int) async throws -> String {
        let watch = try spawnWatch([
            "check", "--watch", "--kafka", bootstrap, "--node", "catalog=\(nodeAddress("catalog"))",
            "--node", "storefront=\(nodeAddress("storefront"))", "--service", "catalog", "--service", "storefront",
            "--sample", String(sample), "--window-ms", String(windowMillis), "--metrics-port", "0", "--log-level", "warning",
        ])
        let listening = try await watch.awaitLine(timeout: .seconds(60)) { $0.contains("metrics on") }
        _ = try await watch.awaitLine(timeout: .seconds(60)) { $0.contains("following") }
        guard let port = listening.split(separator: ":").last.flatMap({ Int($0.prefix { $0.isNumber }) }) else {
            throw OperatorError("cannot read the watcher's port from '\(listening)'")
        }
        return "http://127.0.0.1:\(port)"
    }
}

extension BenchChaosCommand {
    /// Prints the watcher's figures and the truth's; a miss when they disagree beyond the
    /// sampling error.
    func reportWatch(_ verdict: ChaosVerdict, watchURL: String, reads: [ChaosRead], injector: ChaosFaultInjector) async -> [String] {
        let metrics = await chaosHTTPGet(watchURL + "/metrics").body
        func total(_ name: String) -> Double {
            metrics.split(separator: "\n").filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
                .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
        }
        let log = (try? String(contentsOf: verdict.cluster.directory.appendingPathComponent("watch.log"), encoding: .utf8)) ?? ""
        let logged = ChaosWatchComparison.loggedViolations(log)
        let toRun = { (millis: Int64) in injector.started &+ UInt64(max(0, millis - injector.startedWallMillis)) * 1_000_000 }
        let inFaults = logged.filter { millis in
            let at = toRun(millis)
            return injector.periods.contains { $0.contains(at) } || injector.brokerPhase?.contains(at) == true
        }.count
        let truth = ChaosWatchComparison.truthEpisodes(
            reads, truth: verdict.truth, windowMillis: raceWindowMs, faults: injector.periods, brokerPhase: injector.brokerPhase)
        let comparison = ChaosWatchComparison(
            checked: total("cascade_consistency_checked_total"), violations: total("cascade_consistency_violations_total"),
            unchecked: total("cascade_consistency_unchecked_total"), late: total("cascade_consistency_late_total"), sampleRate: watchSample,
            loggedOutside: logged.count - inFaults, loggedInFaults: inFaults, truthOutside: truth.outside, truthWhole: truth.whole)
        printLine("")
        printLine(String(
            format: "cascade check --watch (%g%% of keys, %d ms window): %.0f checks, %.0f violations (%d sent outside faults, %d in them), "
                + "%.0f unchecked, %.0f sampled keys invalidated late (sent more than the window after their event)",
            watchSample * 100, raceWindowMs, comparison.checked, comparison.violations, comparison.loggedOutside, comparison.loggedInFaults,
            comparison.unchecked, comparison.late))
        printLine(String(
            format: "truth: stale values read more than %d ms after they were superseded: %d outside faults, %d over the run (broker phase apart)",
            raceWindowMs, truth.outside, truth.whole))
        printLine(String(
            format: "watcher's estimate outside faults for every key %.1f vs the truth's %d: %@ (sampling error ±%.1f); "
                + "stale reads that last because an invalidation came late are the truth's only (see docs/consistency.md)",
            comparison.estimate, truth.outside, (comparison.agrees ? "agree" : "DISAGREE") as NSString, comparison.tolerance))
        guard comparison.checked > 0 else { return ["the watcher checked nothing"] }
        return comparison.agrees ? [] : [String(format: "the watcher's %.1f violations disagree with the truth's %d", comparison.estimate, truth.outside)]
    }
}
