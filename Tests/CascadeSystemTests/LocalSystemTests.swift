import CascadeBus
import CascadeGraph
import CascadeKafka
import CascadeSync
import CascadeSystem
import CascadeTestSupport
import CascadeWire
import Logging
import NIOConcurrencyHelpers
import Testing

/// The system `cascade dev` and the benchmarks run, built in this process on the embedded broker.
@Suite("A whole system in one process")
struct LocalSystemTests {
    @Test("two bus instances and a node per service come up; a Product event drops its keys down the chain, in two services")
    func productEventCascades() async throws {
        let graph = try #require(try GraphLoader.load(directory: CascadeBinary.packageRoot.appendingPathComponent("graph").path).graph)
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 2)
        defer { kafka.shutdown() }
        let configuration = KafkaConfiguration(
            bootstrapServers: kafka.bootstrapServers, properties: ["linger.ms": "1", "fetch.wait.max.ms": "5"])
        let applied = NIOLockedValueBox<[String: Int]>([:])
        let applying = ChangeSignal()
        var plan = SystemPlan(graph: graph, kafka: configuration, topics: Topics(), partitions: 2)
        plan.buses = 2
        plan.onApplied = { _, service in
            applied.withLockedValue { $0[service, default: 0] += 1 }
            applying.changed()
        }
        for topic in plan.topicNames { try kafka.createTopic(topic, partitions: 2) }
        let producer = try KafkaProducer(configuration: configuration)
        let system = try LocalSystem(plan, before: [producer], logger: Logger(label: "test"))
        let running = Task { try await system.run() }

        let ready = try #require(await system.readiness.awaitAll())
        #expect(ready.buses == ["in-process", "in-process"])
        #expect(Set(ready.nodes.keys) == Set(graph.serviceNames))
        let product = try #require(system.nodes["product-service"]?.node)
        let analytics = try #require(system.nodes["analytics-service"]?.node)
        // Bound keys: the graph names them from the event alone, no registration needed.
        _ = product.set("product:p-1", Array("v1".utf8), expiresAtMillis: nil, dependencies: [])
        _ = product.set("product:p-1:page", Array("v1".utf8), expiresAtMillis: nil, dependencies: [])
        _ = analytics.set("stats:product:p-1", Array("v1".utf8), expiresAtMillis: nil, dependencies: [])
        _ = product.set("product:p-2", Array("v1".utf8), expiresAtMillis: nil, dependencies: [])

        let event = DomainEvent(
            ref: EntityRef(entity: "Product", id: "p-1"), op: .update, version: 2, origin: "test", eventID: "e-1")
        try await producer.produce(topic: plan.topics.events, key: Array(event.kafkaKey.utf8), value: JSONEventEncoder.encode(event), token: 0)
        let gone = await applying.wait(until: .now + .seconds(30)) {
            product.get("product:p-1") == nil && product.get("product:p-1:page") == nil && analytics.get("stats:product:p-1") == nil
        }
        #expect(gone, "applied: \(applied.withLockedValue { $0 })")
        #expect(product.get("product:p-2") == Array("v1".utf8))

        await system.stop()
        try await running.value
    }
}
