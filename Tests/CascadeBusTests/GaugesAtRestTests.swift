import CascadeBus
import CascadeGraph
import CascadeKafka
import CascadeTestSupport
import CascadeWire
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// The state gauges tell the truth once the bus is idle: a burst of registrations larger than
/// a consumer batch, with nothing read after it (no node reports on this broker), ends with
/// `cascade_bus_indexed_keys` equal to the keys indexed. It was refreshed at most once a
/// second during batches and never after the last one.
@Suite("Gauges at rest", .serialized)
struct GaugesAtRestTests {
    @Test("cascade_bus_indexed_keys equals the registrations once a burst is over")
    func indexedKeysAfterABurst() async throws {
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 4)
        defer { kafka.shutdown() }
        let topics = Topics(prefix: "gauges-rest.")
        let graph = try #require(GraphLoader.load(directory: CascadeBinary.packageRoot.appendingPathComponent("graph").path).graph)
        for topic in topics.all(services: graph.serviceNames) {
            try kafka.createTopic(topic, partitions: topic == topics.nodes ? 1 : 4)
        }
        let configuration = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let bus = try BusService(
            configuration: BusConfiguration(kafka: configuration, topics: topics, groupID: "gauges-rest", partitions: 4),
            graph: graph, logger: Logger(label: "test.gauges-rest"))
        let service = ServiceGroup(configuration: .init(services: [bus], logger: Logger(label: "test.gauges-rest")))
        let running = Task { try await service.run() }
        await bus.awaitReady()

        // A burst over several consumer batches, then a few more right after it is indexed:
        // nothing is read after those, so only a refresh at rest can count them.
        let burst = 12_000
        let tail = 50
        let producer = try KafkaProducer(configuration: configuration)
        func produce(_ range: Range<Int>) async throws {
            for n in range {
                let registration = RebuildReadinessTests.registration(n)
                try await producer.produce(topic: topics.deps, key: Array(registration.kafkaKey.utf8), value: registration.encoded(), token: UInt64(n))
            }
            #expect(await producer.flush(timeout: .seconds(60)))
        }
        try await produce(0..<burst)
        #expect(try await eventually(timeout: .seconds(30)) { bus.processor.index.registeredKeys == burst })
        try await produce(burst..<burst + tail)
        #expect(try await eventually(timeout: .seconds(30)) { bus.processor.index.registeredKeys == burst + tail })
        var gauge: Int?
        #expect(try await eventually(timeout: .seconds(5)) {
            gauge = Self.gauge("cascade_bus_indexed_keys", bus.metrics)
            return gauge == burst + tail
        }, "cascade_bus_indexed_keys is \(gauge.map(String.init) ?? "absent") with \(burst + tail) keys indexed")

        await service.triggerGracefulShutdown()
        _ = try? await running.value
        await producer.shutdown()
    }

    static func gauge(_ name: String, _ metrics: BusMetrics) -> Int? {
        var buffer: [UInt8] = []
        metrics.registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(name + " ") }
            .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }.map { Int($0) }
    }
}
