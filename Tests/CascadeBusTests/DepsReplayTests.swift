import CascadeBus
import CascadeGraph
import CascadeKafka
import CascadeTestSupport
import CascadeWire
import NIOCore
import Testing

/// What the bus does with `cascade.deps` at start (and what `cascade bench rebuild` times):
/// decode each message, apply the changes to the index in batches of a consumer poll.
@Suite("Replaying cascade.deps into the instance index")
struct DepsReplayTests {
    /// Order summaries as in `cascade bench rebuild`, written as nodes write them (owner and
    /// incarnation), key and value slices of one buffer as the consumer hands them over.
    static func messages(_ range: Range<Int>, node: String = "9f3c1a27d04e5b61") -> [KafkaMessage] {
        var buffer = ByteBufferAllocator().buffer(capacity: 0)
        var spans: [(Int, Int, Int)] = []
        for n in range {
            let registration = Registration(
                service: "order-service", key: "order:o-\(n):summary",
                deps: ["Product#p-\(n % 20)", "Order#o-\(n)", "user-service/user:u-\(n % 10):profile"],
                setAtMillis: 1_795_000_000_000 + Int64(n), owner: RegistrationOwner(node: node, incarnation: UInt64(n + 1)))
            let start = buffer.writerIndex
            buffer.writeString(registration.kafkaKey)
            let valueStart = buffer.writerIndex
            buffer.writeBytes(registration.encoded())
            spans.append((start, valueStart, buffer.writerIndex))
        }
        return zip(range, spans).map { n, span in
            KafkaMessage(
                topic: "cascade.deps", partition: 0, offset: Int64(n), key: buffer.getSlice(at: span.0, length: span.1 - span.0),
                value: buffer.getSlice(at: span.1, length: span.2 - span.1))
        }
    }

    @Test("1000 registrations in batches smaller than the stream end as 1000 registered keys, 3 edges each")
    func replaysEveryRegistration() throws {
        let graph = try #require(GraphLoader.load(directory: CascadeBinary.packageRoot.appendingPathComponent("graph").path).graph)
        let index = InstanceIndex(graph: graph)
        let read = DepsBatch.replay(Self.messages(0..<1000), into: index, batch: 300)
        #expect(read == 1000)
        let statistics = index.statistics
        #expect(statistics.registeredKeys == 1000)
        #expect(statistics.edges == 3000)
        #expect(statistics.undeclaredEdges == 0)
        #expect(index.dependents(of: "Product#p-7").count == 50)
        #expect(index.dependencies(of: CacheKeyRef(service: "order-service", key: "order:o-42:summary"))?.sorted()
            == ["Order#o-42", "Product#p-2", "user-service/user:u-2:profile"])
    }

    @Test("markers are skipped, unreadable values skipped, tombstones with their owner end what they name")
    func markersTombstonesAndJunk() {
        let index = InstanceIndex()
        var messages = Self.messages(0..<4)
        messages.append(KafkaMessage(
            topic: "cascade.deps", partition: 0, offset: 4, key: ByteBuffer(string: "cascade-bus/sync-marker-x"), value: nil))
        messages.append(KafkaMessage(
            topic: "cascade.deps", partition: 0, offset: 5, key: ByteBuffer(string: "order-service/junk"),
            value: ByteBuffer(string: "{\"service\":")))
        // The tombstone of registration 1 (incarnation 2) from its node; one of a node never heard of.
        messages.append(KafkaMessage(
            topic: "cascade.deps", partition: 0, offset: 6, key: ByteBuffer(string: "order-service/order:o-1:summary"), value: nil,
            headers: [.init(name: RegistrationOwner.nodeHeader, string: "9f3c1a27d04e5b61"), .init(name: RegistrationOwner.incarnationHeader, string: "2")]))
        messages.append(KafkaMessage(
            topic: "cascade.deps", partition: 0, offset: 7, key: ByteBuffer(string: "order-service/order:o-2:summary"), value: nil,
            headers: [.init(name: RegistrationOwner.nodeHeader, string: "other"), .init(name: RegistrationOwner.incarnationHeader, string: "99")]))
        var batch = DepsBatch()
        let reads = messages.map { batch.read($0) }
        batch.apply(to: index)
        #expect(batch.registrations == 4)
        #expect(reads.map(Self.name) == ["registration", "registration", "registration", "registration", "ignored", "unreadable", "tombstone", "tombstone"])
        #expect(index.statistics.registeredKeys == 3)
        #expect(index.dependencies(of: CacheKeyRef(service: "order-service", key: "order:o-1:summary")) == nil)
    }

    static func name(_ read: DepsBatch.Read) -> String {
        switch read {
        case .registration: "registration"
        case .tombstone: "tombstone"
        case .unreadable: "unreadable"
        case .ignored: "ignored"
        }
    }
}
