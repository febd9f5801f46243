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

    @Test("markers are skipped, unreadable values skipped, tombstones with their owner end what they name", arguments: [true, false])
    func markersTombstonesAndJunk(keep: Bool) {
        let index = InstanceIndex()
        var messages = Self.messages(0..<4)
        messages.append(KafkaMessage(
            topic: "cascade.deps", partition: 0, offset: 4, key: ByteBuffer(string: "cascade-bus/sync-marker-x"), value: nil))
        messages.append(KafkaMessage(
            topic: "cascade.deps", partition: 0, offset: 5, key: ByteBuffer(string: "order-service/junk"),
            value: ByteBuffer(string: "{\"service\":")))
        // Not plain (an escape): decoded whatever `keep` says, and handed back only when kept.
        messages.append(KafkaMessage(
            topic: "cascade.deps", partition: 0, offset: 8, key: ByteBuffer(string: "order-service/escaped"),
            value: ByteBuffer(string: #"{"service":"order-service","key":"escaped","deps":["Order#o-\u0031"],"set_at_ms":1,"lease":false}"#)))
        // The tombstone of registration 1 (incarnation 2) from its node; one of a node never heard of.
        messages.append(KafkaMessage(
            topic: "cascade.deps", partition: 0, offset: 6, key: ByteBuffer(string: "order-service/order:o-1:summary"), value: nil,
            headers: [.init(name: RegistrationOwner.nodeHeader, string: "9f3c1a27d04e5b61"), .init(name: RegistrationOwner.incarnationHeader, string: "2")]))
        messages.append(KafkaMessage(
            topic: "cascade.deps", partition: 0, offset: 7, key: ByteBuffer(string: "order-service/order:o-2:summary"), value: nil,
            headers: [.init(name: RegistrationOwner.nodeHeader, string: "other"), .init(name: RegistrationOwner.incarnationHeader, string: "99")]))
        var batch = DepsBatch()
        let reads = messages.map { batch.read($0, keep: keep) }
        batch.apply(to: index)
        #expect(batch.registrations == 5)
        let registration = keep ? "registration" : "spelled"
        #expect(reads.map(Self.name) == Array(repeating: registration, count: 4) + ["ignored", "unreadable", registration, "tombstone", "tombstone"])
        #expect(index.dependencies(of: CacheKeyRef(service: "order-service", key: "escaped")) == ["Order#o-1"])
        #expect(index.statistics.registeredKeys == 4)
        #expect(index.dependencies(of: CacheKeyRef(service: "order-service", key: "order:o-1:summary")) == nil)
    }

    /// A random stream of registrations (some undeclared by the graph, some of services with
    /// a `/`, some with dependencies `Dependency.parse` rejects) and tombstones, read as bytes
    /// and read decoded: the two indexes hold the same edges, flags and owners.
    @Test(arguments: 0..<5)
    func bytesAndDecodedRegistrationsIndexAlike(seed: Int) throws {
        let graph = try #require(GraphLoader.load(directory: CascadeBinary.packageRoot.appendingPathComponent("graph").path).graph)
        var random = SplitMix64(seed: UInt64(seed))
        func pick<T>(_ choices: [T]) -> T { choices[Int(random.next() % UInt64(choices.count))] }
        let keys = (0..<30).map { n in
            CacheKeyRef(service: pick(["order-service", "user-service", "catalog", "a/b"]), key: pick(["order:o-\(n):summary", "user:u-\(n):profile", "product:p-\(n)", "k\(n)"]))
        }
        var messages: [KafkaMessage] = []
        for offset in 0..<600 {
            let key = pick(keys)
            let headers: [KafkaHeader] = random.next() % 3 == 0 ? [] : [
                .init(name: RegistrationOwner.nodeHeader, string: pick(["n1", "n2"])),
                .init(name: RegistrationOwner.incarnationHeader, string: "\(random.next() % 50)"),
            ]
            guard random.next() % 4 != 0 else {
                messages.append(KafkaMessage(topic: "cascade.deps", partition: 0, offset: Int64(offset), key: ByteBuffer(string: key.description), value: nil, headers: headers))
                continue
            }
            let deps = (0..<Int(random.next() % 4)).map { _ in
                let other = pick(keys)
                return pick(["Product#p-\(random.next() % 9)", "Order#o-\(random.next() % 9)@\(random.next() % 5)", other.description, other.key, "bad#", ""])
            }
            let owner = random.next() % 4 == 0 ? nil : RegistrationOwner(node: pick(["n1", "n2"]), incarnation: random.next() % 50)
            let registration = Registration(service: key.service, key: key.key, deps: deps, setAtMillis: 1, owner: owner)
            messages.append(KafkaMessage(
                topic: "cascade.deps", partition: 0, offset: Int64(offset), key: ByteBuffer(string: key.description),
                value: ByteBuffer(bytes: registration.encoded())))
        }
        let asBytes = InstanceIndex(graph: graph)
        DepsBatch.replay(messages, into: asBytes, batch: 64)
        let decoded = InstanceIndex(graph: graph)
        var batch = DepsBatch()
        for message in messages { _ = batch.read(message, keep: true) }
        batch.apply(to: decoded)
        var statistics = asBytes.statistics
        // Capacities, not content: the two reads grow their arrays differently.
        statistics.approximateBytes = decoded.statistics.approximateBytes
        #expect(statistics == decoded.statistics)
        #expect(statistics.edges > 50 && statistics.undeclaredEdges > 0)
        for key in keys {
            #expect(asBytes.dependencies(of: key)?.sorted() == decoded.dependencies(of: key)?.sorted(), "\(key)")
            #expect(asBytes.dependents(of: key.description).sorted() == decoded.dependents(of: key.description).sorted(), "\(key)")
        }
    }

    static func name(_ read: DepsBatch.Read) -> String {
        switch read {
        case .registration: "registration"
        case .spelled: "spelled"
        case .tombstone: "tombstone"
        case .unreadable: "unreadable"
        case .ignored: "ignored"
        }
    }
}
