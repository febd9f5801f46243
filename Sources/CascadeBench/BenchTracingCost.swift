import CascadeBus
import CascadeGraph
import CascadeTelemetry
import Foundation
import Logging

/// `bench bus --pipeline-only --otlp-endpoint URL`: the pipeline with spans exported and
/// without, alternated on the same build, best of `runs` each, per wall second and per
/// CPU-second of the resolving thread (the exporter's work runs on other threads and shows
/// in the wall figure only). The events carry no traceparent: `sampling` of them are traced.
struct BenchTracingCost {
    let endpoint: String
    let sampling: Double
    let runs: Int
    let events: Int
    let keys: Int
    let logger: Logger

    func run(graph: CacheGraph, workload: BenchBusWorkload) async throws {
        let tracing = try OTLPTracing(endpoint: endpoint, serviceName: "cascade-bench", samplingRatio: sampling, logger: logger)
        let exporter = Task { try await tracing.service.run() }
        var off = (wall: 0.0, cpu: 0.0)
        var on = (wall: 0.0, cpu: 0.0)
        for _ in 0..<runs {
            off.wall = max(off.wall, BenchBusPipeline.eventsPerSecond(graph: graph, workload: workload, events: events, memory: nil))
            off.cpu = max(off.cpu, BenchBusPipeline.lastCPURate)
            on.wall = max(
                on.wall, BenchBusPipeline.eventsPerSecond(graph: graph, workload: workload, events: events, memory: nil, tracing: tracing.spans))
            on.cpu = max(on.cpu, BenchBusPipeline.lastCPURate)
        }
        exporter.cancel()
        _ = try? await exporter.value
        let ratio = on.cpu / off.cpu
        printLine("pipeline (no broker, one task, \(events) events, \(keys) registered keys, no memory of cascades; best of \(runs), alternated)")
        printLine(String(format: "  tracing off  %8.0f events/s wall   %8.0f events/CPU-s", off.wall, off.cpu))
        printLine(String(format: "  tracing %3.0f%% %8.0f events/s wall   %8.0f events/CPU-s", sampling * 100, on.wall, on.cpu))
        printLine(String(
            format: "ratio on/off %.3f (CPU), %.3f (wall)   floor >= 0.90   %@", ratio, on.wall / off.wall, ratio >= 0.9 ? "ok" : "MISSED"))
    }
}
