import CascadeKafka
@testable import CascadeCache
@testable import CascadeNode
import CascadeTestSupport
import CascadeWire
import Foundation
import NIOCore
import NIOPosix
import Testing

@Suite("Bounded registration queue")
struct RegistrationQueueTests {
    @Test("claims past the bound are refused until queued items are sent or claims released")
    func boundHoldsUntilRoomIsFreed() async {
        let queue = RegistrationQueue<Int>(maxBytes: 300)
        #expect(queue.reserve(bytes: 200))
        #expect(!queue.reserve(bytes: 200))
        queue.append([(1, 200)], reserved: 200)
        #expect(queue.usedBytes == 200)
        #expect(!queue.reserve(bytes: 101))
        #expect(queue.reserve(bytes: 100))
        queue.release(bytes: 100)
        let batch = await queue.next()
        #expect(batch?.map(\.item) == [1])
        // Handed to the producer but not yet enqueued there: still counted.
        #expect(!queue.reserve(bytes: 200))
        queue.sent(bytes: 200)
        #expect(queue.usedBytes == 0)
        #expect(queue.reserve(bytes: 300))
    }

    @Test("an empty queue admits one claim larger than the bound")
    func emptyQueueAdmitsOneLargeClaim() {
        let queue = RegistrationQueue<Int>(maxBytes: 100)
        #expect(queue.reserve(bytes: 500))
        #expect(!queue.reserve(bytes: 1))
    }

    @Test("what cannot be refused: tombstones are queued past the bound, hints are dropped")
    func tombstonesQueuedHintsDropped() async {
        let queue = RegistrationQueue<String>(maxBytes: 100)
        #expect(queue.append([("tombstone", 80), ("tombstone", 80)]) == 0)
        #expect(queue.append([("hint", 10)], dropWhenFull: true) == 1)
        queue.close()
        #expect(await queue.next()?.map(\.item) == ["tombstone", "tombstone"])
        #expect(await queue.next() == nil)
    }

    @Test("SET ... DEPS past the bound answers -TRYAGAIN and stores nothing; without DEPS it is stored")
    func nodeRefusesRegistrationsItCannotQueue() async throws {
        // A producer that is never drained into: the publisher's queue only fills.
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1"))
        let cost = Registration.queuedBytes(key: 1, deps: ["Product#p-1"])
        let publisher = KafkaRegistrationPublisher(producer: producer, topics: Topics(), maxQueuedBytes: 2 * cost)
        var configuration = NodeConfiguration(service: "shop", port: 0)
        configuration.registrationQueueLimit = 2 * cost
        let node = CacheNode(configuration: configuration, publisher: publisher)
        let listener = try await RESPServer(node: node, group: MultiThreadedEventLoopGroup.singleton).bind()
        let cli = RedisCLI(port: listener.localAddress?.port ?? 0)

        #expect(try await cli("SET", "a", "1", "DEPS", "Product#p-1") == "OK")
        #expect(try await cli("SET", "b", "1", "DEPS", "Product#p-1") == "OK")
        let refused = try await cli("SET", "c", "1", "DEPS", "Product#p-1")
        #expect(refused.hasPrefix("TRYAGAIN"), "\(refused)")
        #expect(try await cli("GET", "c") == "")
        #expect(try await cli("LEASE.GET", "d", "DEPS", "Product#p-1").hasPrefix("TRYAGAIN"))
        #expect(try await cli("SET", "e", "1") == "OK")
        #expect(node.set("f", [1], expiresAtMillis: nil, dependencies: [.entity(EntityRef(entity: "Product", id: "p-1"), version: nil)]) == .notStored)
        #expect(try await cli("CONFIG", "GET", "cascade-registration-queue-limit").hasSuffix(String(2 * cost)))
        #expect(publisher.queue.usedBytes == 2 * cost)
        let info = try await cli("INFO", "cascade")
        #expect(info.contains("registration_queue_bytes:\(2 * cost)\r\n") && info.contains("registrations_refused:3\r\n"), "\(info)")

        try await listener.close()
        await producer.shutdown(timeout: .milliseconds(100))
    }
}
