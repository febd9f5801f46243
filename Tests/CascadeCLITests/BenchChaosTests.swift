import CascadeTestSupport
import Foundation
import Testing

/// The short form of `cascade bench chaos`: real broker, bus and nodes, one bus kill, the broker
/// outage and the node restart, about 20 s of writes.
@Suite("cascade bench chaos, short form")
struct BenchChaosTests {
    /// The stale-read window is judged loosely here (a debug build, maybe a busy machine):
    /// the 100 ms floor is for the release build (`make bench-chaos`); the rest is exact.
    /// Bounded staleness has its own test (BoundedStalenessTests): values computed from another
    /// node's cached values can pass a node's bound (docs/consistency.md), so it is measured
    /// by the full run, not judged here.
    @Test("20 s with one bus kill: the run completes, prints its table, and every floor holds")
    func benchChaosShortForm() async throws {
        let chaos = try ChildProcess.cascade([
            "bench", "chaos", "--seconds", "20", "--bus-kills", "1", "--window-floor-ms", "1000",
        ])
        defer { chaos.signal(SIGINT) }
        let status = try await chaos.awaitExit(timeout: .seconds(300))
        let output = chaos.stdout
        print(output)
        #expect(output.contains("kind        keys checked   stale after quiescence"))
        for kind in ["primary", "lease", "secondary", "cycle"] {
            #expect(output.contains("\n\(kind) "), "a row for \(kind)")
        }
        #expect(output.contains("stale-read window ms"))
        #expect(output.contains("cascade check after quiescence: exit"))
        #expect(output.contains("cascade check with plant:p-planted planted: exit 1"))
        #expect(status == 0, "every floor holds: \(output.suffix(1500)) \(chaos.stderr.suffix(1500))")
    }
}
