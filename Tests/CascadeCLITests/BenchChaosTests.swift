import CascadeTestSupport
import Foundation
import Testing

/// The short forms of `cascade bench chaos`: real broker, buses and nodes, the broker outage in
/// its phase, bus kills and the node restart over 20 s of writes; one bus, then two.
@Suite("cascade bench chaos, short form", .serialized)
struct BenchChaosTests {
    /// The stale-read window is judged loosely here (a debug build, maybe a busy machine):
    /// the 100 ms floor is for the release build (`make bench-chaos`); the rest is exact.
    /// Bounded staleness has its own test (BoundedStalenessTests): values computed from another
    /// node's cached values can pass a node's bound (docs/consistency.md), so it is measured
    /// by the full run, not judged here.
    @Test("20 s with one bus kill: the run completes, prints its table, and every floor holds")
    func benchChaosShortForm() async throws {
        let (status, output) = try await run(["--seconds", "20", "--bus-kills", "1", "--window-floor-ms", "1000"])
        #expect(output.contains("kind        keys checked   stale after quiescence"))
        for kind in ["primary", "lease", "secondary", "cycle"] {
            #expect(output.contains("\n\(kind) "), "a row for \(kind)")
        }
        #expect(output.contains("stale-read window ms"))
        #expect(output.contains("cascade check after quiescence: exit"))
        #expect(output.contains("cascade check with plant:p-planted planted: exit 1"))
        // The watcher beside the truth; its agreement is one of the floors.
        #expect(output.contains("cascade check --watch (10% of keys, 2000 ms window): "))
        #expect(output.contains("vs the truth's"))
        // One instance: its kill stops every partition until the restart; said, not judged.
        #expect(output.contains("bounded by its restart"))
        expectEveryFloor(status, output)
    }

    /// Two instances, each killed once: the others take over within the failover floor
    /// (loosened to 1.5 s for a debug build on a busy machine, as in BusFailoverTests), and the
    /// whole run's hits of values superseded more than 1 s before stay under 2% (0.5% is the
    /// release build's floor over the full run). The calm window's p99 is judged at 2 s here:
    /// two debug-build buses, two nodes and the broker on two cores put it at about 1 s (a CI
    /// run measured 1,012 ms); the release floor is 100 ms (`cascade bench chaos --buses 3`).
    @Test("20 s with 2 bus instances, each killed once: invalidations flow again within the floor, and every floor holds")
    func benchChaosTwoBuses() async throws {
        let (status, output) = try await run([
            "--seconds", "20", "--buses", "2", "--bus-kills", "2", "--window-floor-ms", "2000",
            "--failover-floor-ms", "1500", "--superseded-floor-percent", "2",
        ])
        #expect(output.contains("SIGKILL bus-0"))
        #expect(output.contains("SIGKILL bus-1"))
        #expect(output.components(separatedBy: "invalidations flow again on all 8 partitions").count == 3, "a failover time per kill")
        #expect(output.contains("failover max"))
        #expect(output.contains("whole run:"))
        #expect(output.contains("keys present at the end:"))
        expectEveryFloor(status, output)
    }

    /// Every floor holds, or the only miss is cascade check's known false alarm: a key whose
    /// dependency was dropped on its node by the event of the very version the key holds (the
    /// dependency's value was computed from the truth before that event arrived, its tag drops
    /// it anyway, and the bus, which did not list it, remembers no invalidation to race-check
    /// the dependent with). The truth says the value is current; docs/consistency.md has it.
    /// Debug builds on a busy machine hit it in some runs; any other miss fails the test.
    private func expectEveryFloor(_ status: Int32, _ output: String) {
        let lines = output.split(separator: "\n").map(String.init)
        let missed = lines.first { $0.hasPrefix("missed: ") }.map { line in
            line.dropFirst("missed: ".count).components(separatedBy: "; ").filter { !$0.hasPrefix("logs in ") }
        } ?? []
        let explained = lines.drop { !$0.hasPrefix("on the run's clock") }.dropFirst().prefix { $0.hasPrefix("  ") }
        if status == 1, missed == ["cascade check exited 1 after quiescence (floor 0)"], !explained.isEmpty,
           explained.allSatisfy({ $0.contains("(the version the key holds: its value is current)") }) {
            withKnownIssue("cascade check counts a current value whose dependency its own version's event dropped", isIntermittent: true) {
                Issue.record(Comment(rawValue: explained.joined(separator: "\n")))
            }
            return
        }
        #expect(status == 0, "every floor holds: \(output.suffix(2500))")
    }

    /// Runs the bench to its end; its exit status and standard output (printed).
    private func run(_ arguments: [String]) async throws -> (Int32, String) {
        let chaos = try ChildProcess.cascade(["bench", "chaos"] + arguments)
        defer { chaos.signal(SIGINT) }
        let status = try await chaos.awaitExit(timeout: .seconds(300))
        print(chaos.stdout)
        if status != 0 { print(chaos.stderr.suffix(1500)) }
        return (status, chaos.stdout)
    }
}
