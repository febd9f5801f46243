import CascadeTestSupport
import Foundation
import Testing

/// `--bootstrap` on the benchmarks: every run goes to the named broker (here a `cascade kafka`
/// process standing in for a real one), on topics of the run's own.
@Suite("benchmarks against a named broker")
struct BenchBrokerTests {
    @Test("bench e2e --bootstrap: Cascade and both baselines run on that broker, every event done")
    func benchE2EOnANamedBroker() async throws {
        let kafka = try ChildProcess.cascade(["kafka", "--partitions", "8", "--log-level", "warning"])
        defer { kafka.signal(SIGKILL) }
        let bootstrap = try await kafka.awaitLine { $0.contains(":") }.trimmingCharacters(in: .whitespaces)
        let bench = try ChildProcess.cascade(["bench", "e2e", "--bootstrap", bootstrap, "--rates", "200", "--seconds", "1"])
        defer { bench.signal(SIGKILL) }
        let status = try await bench.awaitExit(timeout: .seconds(240))
        print(bench.stdout)
        if status != 0 { print(bench.stderr.suffix(1500)) }
        #expect(status == 0)
        #expect(bench.stdout.contains("cascade bench e2e: broker at \(bootstrap)"))
        // Cascade's row, then the two baselines': 200 events sent, 200 done, on each.
        let rows = bench.stdout.split(separator: "\n").filter { $0.hasPrefix("   200 ") && !$0.contains("→") }
        #expect(rows.count == 3, "a row per run: \(rows)")
        for row in rows {
            let fields = row.split(separator: " ")
            #expect(fields.count >= 3 && fields[1] == "200" && fields[2] == "200", "every event done: \(row)")
        }
        // The broker itself (kcat) holds the three runs' topics, each under a prefix of its own.
        let listing = try await runCommand("kcat", ["-L", "-b", bootstrap]).stdout
        for suffix in ["cascade.events", "hops.events", "raw.events"] {
            #expect(listing.range(of: #"topic "bench-[0-9a-f]{8}\."# + suffix, options: .regularExpression) != nil, "\(suffix) on the broker")
        }
    }
}
