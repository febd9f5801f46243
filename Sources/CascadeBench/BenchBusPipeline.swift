import CascadeBus
import CascadeGraph
import CascadeWire
import Foundation

/// The bus's pipeline with no broker: the same events through `EventProcessor` on one task,
/// with the index the registrations build. The ceiling resolution alone puts on the bus; the
/// gap to the Kafka runs is what the broker round trips cost.
enum BenchBusPipeline {
    static func eventsPerSecond(graph: CacheGraph, workload: BenchBusWorkload, events: Int) -> Double {
        let index = InstanceIndex(graph: graph)
        for registration in workload.registrations { _ = index.register(registration) }
        let processor = EventProcessor(graph: graph, index: index, ledger: Ledger(), topics: Topics(prefix: "bench-pipeline."))
        var produced = 0
        let start = ContinuousClock.now
        for (offset, event) in workload.events.prefix(events).enumerated() {
            let result = processor.process(
                key: event.key, value: event.value,
                source: SourcePosition(topic: "bench-pipeline.events", partition: 0, offset: Int64(offset)), nowMillis: 0)
            produced &+= result.messages.count
        }
        let seconds = (ContinuousClock.now - start).inSeconds
        precondition(produced >= events, "every event causes at least its ledger record")
        return Double(events) / seconds
    }
}
