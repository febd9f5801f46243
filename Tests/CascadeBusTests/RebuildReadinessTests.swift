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

/// A bus started on the embedded broker while registrations keep flowing into `cascade.deps`
/// (writers that never stop, each registration its own message set, as nodes write them under
/// a steady trickle): it is ready in bounded time, with every registration written before it
/// started in its index.
@Suite("Rebuilding while registrations keep flowing", .serialized)
struct RebuildReadinessTests {
    static let before = 20_000

    @Test("a bus started while writers keep producing to cascade.deps is ready within 30 s, with everything written before")
    func readyWhileRegistrationsFlow() async throws {
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 4)
        defer { kafka.shutdown() }
        let topics = Topics(prefix: "rebuild-flow.")
        let graph = try #require(GraphLoader.load(directory: CascadeBinary.packageRoot.appendingPathComponent("graph").path).graph)
        for topic in topics.all(services: graph.serviceNames) {
            try kafka.createTopic(topic, partitions: topic == topics.nodes ? 1 : 4)
        }
        let configuration = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let producer = try KafkaProducer(configuration: configuration)
        for n in 0..<Self.before {
            let registration = Self.registration(n)
            try await producer.produce(topic: topics.deps, key: Array(registration.kafkaKey.utf8), value: registration.encoded(), token: UInt64(n))
        }
        #expect(await producer.flush(timeout: .seconds(60)))

        // Four writers, each waiting for one registration's acknowledgement before the next.
        let written = NIOLockedValueBox(0)
        let writers = (0..<4).map { writer in
            Task {
                var n = Self.before + writer
                while !Task.isCancelled {
                    let registration = Self.registration(n)
                    _ = try? await producer.send(topic: topics.deps, key: Array(registration.kafkaKey.utf8), value: registration.encoded())
                    written.withLockedValue { $0 += 1 }
                    n += 4
                }
            }
        }
        defer { for writer in writers { writer.cancel() } }
        // The flow is on before the bus starts.
        let flowing = try await eventually(timeout: .seconds(30)) { written.withLockedValue { $0 } >= 100 }
        #expect(flowing, "the writers produce")
        let writtenBeforeStart = written.withLockedValue { $0 }

        let clock = ContinuousClock()
        let started = clock.now
        let bus = try BusService(
            configuration: BusConfiguration(kafka: configuration, topics: topics, groupID: "rebuild-flow", partitions: 4),
            graph: graph, logger: Logger(label: "test.rebuild-flow"))
        let service = ServiceGroup(configuration: .init(services: [bus], logger: Logger(label: "test.rebuild-flow")))
        let running = Task { try await service.run() }
        // What /readyz would say, looked at every 20 ms until ready.
        var said: [String] = []
        while !bus.isReady && clock.now - started < .seconds(30) {
            let text = bus.readiness
            if said.last != text && said.count < 1000 { said.append(text) }
            try await Task.sleep(for: .milliseconds(20))
        }
        let elapsed = clock.now - started
        let writtenByReady = written.withLockedValue { $0 }
        #expect(bus.isReady, "not ready after 30 s: \(bus.readiness)")
        #expect(said.allSatisfy { $0.hasPrefix("asking where the state topics end") || $0.contains(" behind: ") || $0 == "caught up" || $0 == "ready" }, "\(said)")
        #expect(bus.isReady && bus.readiness == "ready")
        // Everything acknowledged before the bus started is in its index.
        let indexed = bus.processor.index.statistics.registeredKeys
        #expect(indexed >= Self.before + writtenBeforeStart, "\(indexed) keys indexed")
        #expect(writtenByReady > writtenBeforeStart, "registrations kept flowing during the rebuild")
        print("rebuild while flowing: ready in \(elapsed), \(indexed) keys indexed, \(writtenByReady - writtenBeforeStart) written meanwhile")

        for writer in writers { writer.cancel() }
        await service.triggerGracefulShutdown()
        _ = try? await running.value
        await producer.shutdown()
    }

    static func registration(_ n: Int) -> Registration {
        Registration(
            service: "order-service", key: "order:o-\(n):summary",
            deps: ["Product#p-\(n % 300)", "Order#o-\(n)", "user-service/user:u-\(n % 100):profile"],
            setAtMillis: 1_795_000_000_000 + Int64(n), owner: RegistrationOwner(node: "9f3c1a27d04e5b61", incarnation: UInt64(n + 1)))
    }
}
