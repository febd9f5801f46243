import CascadeBench
import Testing

/// `cascade bench ttl`'s simulation: adaptive TTLs beat a fixed one on the same workload.
@Suite struct TTLBenchmarkTests {
    @Test func adaptiveBeatsTheFixedTTLOfTheSameStaleRateInTheBenchmark() throws {
        var benchmark = TTLBenchmark()
        benchmark.durationSeconds = 3_600
        benchmark.readsPerSecond = 100
        let results = try benchmark.run(fixedTTLs: [15, 300])
        let short = results[0], long = results[1], adaptive = results[2]
        #expect(adaptive.hitRatio > short.hitRatio, "\(results.map { ($0.label, $0.hitRatio, $0.staleRate) })")
        #expect(adaptive.staleRate < long.staleRate / 3)
    }
}
