import CascadeTestSupport
import Foundation
import Testing

/// `cascade bench scale` on real `cascade bus --partitioned-state` processes, small.
@Suite("bench scale on processes")
struct BenchScaleTests {
    @Test("bench scale --instances 1,2: each instance's index, registrations, CPU and rebuild, and the e2e of the paced events")
    func scaleOnProcesses() async throws {
        let keys = 2000
        let bench = try ChildProcess.cascade([
            "bench", "scale", "--keys", String(keys), "--events", "1000", "--instances", "1,2", "--rate", "100", "--partitions", "4",
        ])
        defer { bench.signal(SIGKILL) }
        let status = try await bench.awaitExit(timeout: .seconds(300))
        print(bench.stdout)
        if status != 0 { print(bench.stderr.suffix(1500)) }
        #expect(status == 0)
        // Per instance: name, index MB, ratio, registrations, CPU s/1000 events, beyond idle, idle CPU %, rebuild s, ratio.
        let rows = bench.stdout.split(separator: "\n").filter { $0.hasPrefix("  scale") }.map { $0.split(separator: " ") }
        #expect(rows.count == 3, "one row for the single instance, two for the pair: \(rows)")
        for row in rows {
            guard row.count == 9, let megabytes = Double(row[1]), let cpu = Double(row[4]), let rebuild = Double(row[7]) else {
                Issue.record("unreadable row \(row)")
                continue
            }
            #expect(megabytes > 0 && cpu > 0 && rebuild > 0, "\(row)")
        }
        // The single instance holds them all, and the warm-up that taught it their families
        // (invalidated, but no node is there to drop its registration).
        #expect(rows.first.flatMap { Int($0[3]) } == keys + 1, "\(rows.first ?? [])")
        // Every paced event (100 a second for 5 s) caused invalidations that came back.
        let summaries = bench.stdout.split(separator: "\n").filter { $0.contains("e2e p50/p99") }
        #expect(summaries.count == 2 && summaries.allSatisfy { $0.contains("(500 events at the paced rate)") }, "\(summaries)")
        // Set as nodes set them, after their families were learned: the race check finds them fresh.
        #expect(summaries.allSatisfy { $0.hasSuffix(", 0 registrations judged stale") }, "\(summaries)")
    }
}
