import Foundation
import Synchronization
import Testing

@testable import CascadeKafka

@Suite("Blocking librdkafka calls on one long-lived thread per client; commits answered asynchronously")
struct ClientWorkerTests {
    /// The thread a call runs on.
    private static func threadID() -> UInt { UInt(pthread_self()) }

    @Test("every blocking call of a client runs on the same thread, never on a new one per call")
    func oneThreadForAllCalls() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let client = try RDKafkaAdmin.make(conf: RDKafkaConfig.make(["bootstrap.servers": kafka.bootstrapServers]))
        let worker = ClientWorker(client: client, name: "test-worker")
        defer { worker.stop() }
        let caller = Self.threadID()
        let threads = try await withThrowingTaskGroup(of: UInt.self) { group in
            for _ in 0..<40 { group.addTask { try await worker.run { Self.threadID() } } }
            return try await group.reduce(into: Set<UInt>()) { $0.insert($1) }
        }
        #expect(threads.count == 1, "40 calls ran on \(threads.count) threads")
        #expect(!threads.contains(caller))
    }

    @Test("calls asked one after another run in that order and hand back what they return")
    func callsRunInOrder() async throws {
        let client = try RDKafkaAdmin.make(conf: RDKafkaConfig.make([:]))
        let worker = ClientWorker(client: client, name: "test-worker")
        defer { worker.stop() }
        let order = Order()
        for index in 0..<10 { try await worker.run { order.append(index) } }
        #expect(order.values == Array(0..<10))
    }

    @Test("a stopped worker refuses work with .closed instead of hanging")
    func stoppedWorkerRefuses() async throws {
        let client = try RDKafkaAdmin.make(conf: RDKafkaConfig.make([:]))
        let worker = ClientWorker(client: client, name: "test-worker")
        worker.stop()
        await #expect(throws: KafkaError.closed) { try await worker.run { 1 } }
    }

    @Test("a commit is answered by the broker without a thread waiting: stored offsets land, nothing stored answers at once")
    func asynchronousCommit() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let topic = uniqueTopic()
        try kafka.createTopic(topic, partitions: 2)
        let config = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let group = "group-\(UUID().uuidString)"
        let consumer = try KafkaConsumer(configuration: config, subscription: .manual(commitGroup: group))
        let partitions = (0..<2).map { TopicPartition(topic: topic, partition: Int32($0)) }
        try consumer.add(partitions)

        // Nothing stored: librdkafka answers __NO_OFFSET on the queue, which is not an error.
        try await consumer.commit()
        // Many at once, each awaited: every one gets its own answer.
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for offset in 1...20 {
                tasks.addTask { try await consumer.commit([TopicPartition(topic: topic, partition: 0, offset: Int64(offset))]) }
            }
            try await tasks.waitForAll()
        }
        try await consumer.commit([TopicPartition(topic: topic, partition: 1, offset: 7)])
        let committed = try await consumer.committed(partitions)
        #expect(committed.first { $0.partition == 1 }?.offset == 7)
        #expect((committed.first { $0.partition == 0 }?.offset ?? -1) > 0)

        await consumer.shutdown()
        await #expect(throws: KafkaError.self) { try await consumer.commit() }
        await #expect(throws: KafkaError.closed) { try await consumer.committed(partitions) }
    }
}

/// Values appended on the worker thread, read by the test.
private final class Order: Sendable {
    private let values_ = Mutex<[Int]>([])
    func append(_ value: Int) { values_.withLock { $0.append(value) } }
    var values: [Int] { values_.withLock { $0 } }
}
