import CascadeBus
import CascadeGraph
import CascadeKafka
import CascadeTestSupport
import CascadeWire
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing

/// A bus whose state topics are partitioned otherwise than its events topic refuses to start,
/// says which topic and what to do, and whoever awaits its readiness hears that it stopped
/// (`cascade bench rebuild` waited for ever on such a bus).
@Suite("Partition mismatch at start", .serialized)
struct TopicMismatchTests {
    @Test("the bus refuses a deps topic partitioned otherwise, and awaitReady returns")
    func refusesAndReleasesReadiness() async throws {
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 4)
        defer { kafka.shutdown() }
        let topics = Topics(prefix: "mismatch.")
        let graph = try #require(GraphLoader.load(directory: CascadeBinary.packageRoot.appendingPathComponent("graph").path).graph)
        for topic in topics.all(services: graph.serviceNames) {
            try kafka.createTopic(topic, partitions: topic == topics.deps ? 8 : 4)
        }
        let bus = try BusService(
            configuration: BusConfiguration(
                kafka: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers), topics: topics, groupID: "mismatch", partitions: 4),
            graph: graph, logger: Logger(label: "test.mismatch"))
        let running = Task { try await bus.run() }
        let released = NIOLockedValueBox(false)
        let waiter = Task {
            await bus.awaitReady()
            released.withLockedValue { $0 = true }
        }
        var refusal: String?
        do {
            try await running.value
        } catch {
            refusal = "\(error)"
        }
        #expect(refusal?.contains("\(topics.deps) has 8 partitions and \(topics.events) has 4") == true, "\(refusal ?? "no error")")
        #expect(try await eventually(timeout: .seconds(10)) { released.withLockedValue { $0 } }, "awaitReady still waits")
        waiter.cancel()
        #expect(!bus.isReady)
    }
}
