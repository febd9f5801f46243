import ArgumentParser
import CascadeBus
import CascadeGraph
import CascadeTracing
import CascadeWire
import Foundation

/// The bus's pipeline with no broker: the same events through `EventProcessor` on one task,
/// with the index the registrations build. The ceiling resolution alone puts on the bus; the
/// gap to the Kafka runs is what the broker round trips cost. With a source kind, the same
/// changes arrive in that format (one source topic per entity), through its decoder.
enum BenchBusPipeline {
    /// `memory`: the bus's memory of cascades, fed a chunk at a time as the bus feeds it a span
    /// at a time (`cascade why`); nil leaves it out, to measure what it costs.
    static func eventsPerSecond(
        graph: CacheGraph, workload: BenchBusWorkload, events: Int, format: BenchSourceFormat = .native, memory: CascadeMemory? = nil,
        tracing: SpanStarter? = nil
    ) -> Double {
        let index = InstanceIndex(graph: graph)
        for registration in workload.registrations { _ = index.register(registration) }
        let sources = format.sources(entities: graph.entityNames)
        let processor = EventProcessor(
            graph: graph, index: index, ledger: Ledger(), topics: Topics(prefix: "bench-pipeline."),
            sourceDecoders: Dictionary(uniqueKeysWithValues: sources.map { ($0.topic, $0.decoder(entities: graph.entityNames, maxBytes: 64 * 1024)) }),
            tracing: tracing)
        // Encoded a consumer batch at a time, outside the timing, as the bus meets them: fresh
        // from one poll, not from a few hundred megabytes of pre-encoded schemas.
        var produced = 0
        var wall = Duration.zero
        var cpuNanos: Int64 = 0
        var offset = 0
        for chunk in stride(from: 0, to: min(events, workload.events.count), by: 4096) {
            let messages = workload.events[chunk..<min(chunk + 4096, events, workload.events.count)].map { format.message($0) }
            let start = ContinuousClock.now
            let cpuStart = threadCPUNanos()
            var cascades: [(root: CascadeMemory.Root, closure: InstanceClosure)] = []
            for message in messages {
                let result = processor.process(
                    key: message.key, value: message.value, headers: message.headers,
                    source: SourcePosition(topic: message.topic, partition: 0, offset: Int64(offset)), nowMillis: 0)
                produced &+= result.messages.count
                if memory != nil, let closure = result.closure, !closure.slots.isEmpty, let cause = result.cause {
                    cascades.append((
                        CascadeMemory.Root(
                            entity: cause.entity, id: cause.id, version: cause.version, eventID: cause.eventID, topic: message.topic,
                            partition: 0, offset: Int64(offset), consumedMillis: 0),
                        closure))
                }
                offset += 1
            }
            memory?.remember(cascades)
            cpuNanos += threadCPUNanos() - cpuStart
            wall += ContinuousClock.now - start
        }
        let cpuSeconds = Double(cpuNanos) / 1e9
        let seconds = wall.inSeconds
        precondition(produced >= events, "every event causes at least its ledger record")
        lastCPURate = Double(events) / max(cpuSeconds, 1e-9)
        return Double(events) / seconds
    }

    /// Events per second of this thread's CPU time in the last run: what the pipeline costs,
    /// less the time other processes had the core (the comparison of formats uses it).
    nonisolated(unsafe) static var lastCPURate = 0.0

    static func threadCPUNanos() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}

/// The formats `cascade bench bus --source-kind` measures, each written as its producers write
/// it (Debezium's PostgreSQL connector, a CloudEvents SDK in either Kafka mode). One origin per
/// format, as in the native stream: events from several origins close in time would be
/// cycle conflicts, which is another workload.
enum BenchSourceFormat: String, CaseIterable, ExpressibleByArgument, Sendable {
    case native
    case debezium
    /// Debezium through the JSON converter with `schemas.enable=true` (its default).
    case debeziumSchema = "debezium-schema"
    case cloudevents
    case cloudeventsBinary = "cloudevents-binary"

    struct Message {
        var topic: String
        var key: [UInt8]?
        var value: [UInt8]
        var headers: [SourceMessage.Header] = []
    }

    func sources(entities: [String]) -> [SourceSpec] {
        switch self {
        case .native: return []
        case .debezium, .debeziumSchema:
            return entities.map { SourceSpec(kind: .debezium, topic: "bench.dbz.\($0)", entity: $0) }
        case .cloudevents, .cloudeventsBinary: return [SourceSpec(kind: .cloudevents, topic: "bench.ce")]
        }
    }

    func message(_ event: BenchBusWorkload.Event) -> Message {
        let table = event.entity.lowercased()
        let millis = 1_764_086_400_123 + Int64(event.version)
        switch self {
        case .native:
            return Message(topic: "bench-pipeline.events", key: event.key, value: event.value)
        case .debezium, .debeziumSchema:
            let payload = "{\"before\":null,\"after\":{\"id\":\"\(event.id)\",\"\(event.attr.name)\":\"\(event.attr.value)\",\"updated_at\":\(millis)},"
                + "\"source\":{\"version\":\"2.7.3.Final\",\"connector\":\"postgresql\",\"name\":\"shop\",\"ts_ms\":\(millis),"
                + "\"snapshot\":\"false\",\"db\":\"shop\",\"sequence\":\"[null,\\\"\(event.version * 64)\\\"]\",\"schema\":\"public\","
                + "\"table\":\"\(table)\",\"txId\":\(700 + event.version),\"lsn\":\(event.version * 64),\"xmin\":null},"
                + "\"op\":\"u\",\"ts_ms\":\(millis + 4),\"transaction\":null}"
            guard self == .debeziumSchema else {
                return Message(topic: "bench.dbz.\(event.entity)", key: Array("{\"id\":\"\(event.id)\"}".utf8), value: Array(payload.utf8))
            }
            let row = "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
                + "{\"type\":\"string\",\"optional\":true,\"field\":\"\(event.attr.name)\"},"
                + "{\"type\":\"int64\",\"optional\":true,\"name\":\"io.debezium.time.MicroTimestamp\",\"version\":1,\"field\":\"updated_at\"}],"
                + "\"optional\":true,\"name\":\"shop.public.\(table).Value\",\"field\":\"%@\"}"
            let schema = "{\"type\":\"struct\",\"fields\":[" + row.replacingOccurrences(of: "%@", with: "before") + ","
                + row.replacingOccurrences(of: "%@", with: "after") + ","
                + "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"
                + "{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"
                + "{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},{\"type\":\"string\",\"optional\":true,\"field\":\"snapshot\"},"
                + "{\"type\":\"string\",\"optional\":false,\"field\":\"db\"},{\"type\":\"string\",\"optional\":true,\"field\":\"sequence\"},"
                + "{\"type\":\"string\",\"optional\":false,\"field\":\"schema\"},{\"type\":\"string\",\"optional\":false,\"field\":\"table\"},"
                + "{\"type\":\"int64\",\"optional\":true,\"field\":\"txId\"},{\"type\":\"int64\",\"optional\":true,\"field\":\"lsn\"},"
                + "{\"type\":\"int64\",\"optional\":true,\"field\":\"xmin\"}],\"optional\":false,"
                + "\"name\":\"io.debezium.connector.postgresql.Source\",\"field\":\"source\"},"
                + "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"}],"
                + "\"optional\":false,\"name\":\"shop.public.\(table).Envelope\",\"version\":1}"
            let key = "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"id\"}],"
                + "\"optional\":false,\"name\":\"shop.public.\(table).Key\"},\"payload\":{\"id\":\"\(event.id)\"}}"
            return Message(
                topic: "bench.dbz.\(event.entity)", key: Array(key.utf8),
                value: Array("{\"schema\":\(schema),\"payload\":\(payload)}".utf8))
        case .cloudevents:
            let json = "{\"specversion\":\"1.0\",\"id\":\"e-\(event.version)\",\"source\":\"/shop\","
                + "\"type\":\"com.shop.\(table).updated\",\"subject\":\"\(event.id)\",\"time\":\"2026-11-25T16:00:00.123Z\","
                + "\"datacontenttype\":\"application/json\",\"sequence\":\"\(event.version)\","
                + "\"data\":{\"\(event.attr.name)\":\"\(event.attr.value)\"}}"
            return Message(
                topic: "bench.ce", key: event.key, value: Array(json.utf8),
                headers: [.init("content-type", Array("application/cloudevents+json; charset=UTF-8".utf8))])
        case .cloudeventsBinary:
            let headers: [(String, String)] = [
                ("ce_specversion", "1.0"), ("ce_id", "e-\(event.version)"), ("ce_source", "/shop"),
                ("ce_type", "com.shop.\(table).updated"), ("ce_subject", event.id), ("ce_time", "2026-11-25T16:00:00.123Z"),
                ("ce_sequence", "\(event.version)"), ("content-type", "application/json"),
            ]
            return Message(
                topic: "bench.ce", key: event.key, value: Array("{\"\(event.attr.name)\":\"\(event.attr.value)\"}".utf8),
                headers: headers.map { .init($0.0, Array($0.1.utf8)) })
        }
    }
}
