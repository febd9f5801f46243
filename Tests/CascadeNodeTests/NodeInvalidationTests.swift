@testable import CascadeCache
@testable import CascadeNode
import CascadeStore
import CascadeTestSupport
import CascadeWire
import NIOCore
import NIOPosix
import Testing

/// A node in this process, so the test plays the Kafka consumer: it calls `apply` between
/// redis-cli commands, as an invalidation arriving through Kafka would.
private struct InProcessNode {
    let node: CacheNode
    let publisher: InMemoryRegistrationPublisher
    let listener: any Channel
    let port: Int

    static func start() async throws -> InProcessNode {
        let publisher = InMemoryRegistrationPublisher()
        let node = CacheNode(configuration: NodeConfiguration(service: "shop", port: 0), publisher: publisher)
        let server = RESPServer(node: node, group: MultiThreadedEventLoopGroup.singleton)
        let listener = try await server.bind()
        return InProcessNode(node: node, publisher: publisher, listener: listener, port: listener.localAddress?.port ?? 0)
    }

    var cli: RedisCLI { RedisCLI(port: port) }

    func stop() async throws { try await listener.close() }
}

private func invalidation(
    kind: InvalidationMessage.Kind = .invalidate, keys: [String] = [], tags: [String] = [],
    fences: [InvalidationMessage.Fence] = []
) -> InvalidationMessage {
    InvalidationMessage(
        kind: kind, cause: .init(eventID: "e1", entity: "X", id: "1", version: 7, atMillis: 1),
        keys: keys.map { .init(key: $0, depth: 0) }, tags: tags, fences: fences)
}

@Suite struct NodeInvalidationTests {
    @Test func leaseSetAfterTheKeyWasInvalidatedIsStale() async throws {
        let node = try await InProcessNode.start()
        let token = try await node.cli("LEASE.GET", "order:9").split(separator: "\n").last.map(String.init) ?? ""
        node.node.apply(invalidation(keys: ["order:9"]))
        #expect(try await node.cli("LEASE.SET", "order:9", token, "old").hasPrefix("STALE"))
        #expect(try await node.cli("GET", "order:9") == "")
        try await node.stop()
    }

    @Test func leaseSetAfterANamedDependencyChangedIsStale() async throws {
        let node = try await InProcessNode.start()
        let token = try await node.cli("LEASE.GET", "order:9", "DEPS", "Product#p-17").split(separator: "\n").last.map(String.init) ?? ""
        #expect(node.publisher.registrations.first?.lease == true)
        node.node.apply(invalidation(tags: ["Product#p-17"]))
        #expect(try await node.cli("LEASE.SET", "order:9", token, "old").hasPrefix("STALE"))
        try await node.stop()
    }

    @Test func setWithAVersionBelowTheAppliedFenceIsStale() async throws {
        let node = try await InProcessNode.start()
        node.node.apply(invalidation(tags: ["X#1"], fences: [.init(ref: "X#1", version: 7)]))
        #expect(try await node.cli("SET", "k", "v", "DEPS", "X#1@5").hasPrefix("STALE"))
        #expect(try await node.cli("SET", "k", "v", "DEPS", "X#1@7") == "OK")
        #expect(node.node.counters.invalidationsApplied == 1)
        try await node.stop()
    }

    @Test func oneTagInvalidationRemovesTheThreeKeysCarryingItAndPublishesTombstones() async throws {
        let node = try await InProcessNode.start()
        for key in ["a", "b", "c"] { #expect(try await node.cli("SET", key, "v", "DEPS", "Product#p-17@1") == "OK") }
        #expect(try await node.cli("SET", "d", "v", "DEPS", "Product#p-18") == "OK")
        #expect(try await node.cli("SET", "e", "v") == "OK")
        #expect(node.publisher.registrations.map(\.key) == ["a", "b", "c", "d"])
        #expect(node.publisher.registrations.first?.deps == ["Product#p-17@1"])
        let result = node.node.apply(invalidation(tags: ["Product#p-17"]))
        #expect(result.keysRemoved == 3)
        #expect(try await node.cli("EXISTS", "a", "b", "c", "d", "e") == "2")
        node.node.maintain()
        // Each tombstone names the registration it ends: this node, that value's incarnation.
        let registered = node.publisher.registrations.prefix(3).map { Tombstone(key: $0.key, incarnation: $0.incarnation ?? 0) }
        #expect(Set(node.publisher.tombstones) == Set(registered))
        #expect(node.publisher.registrations.allSatisfy { $0.node == node.node.nodeID })
        #expect(Set(node.publisher.registrations.compactMap(\.incarnation)).count == 4)
        node.node.counters.lastAppliedOffset = 41
        node.node.counters.lag = 3
        let info = try await node.cli("INFO", "cascade")
        #expect(info.contains("last_applied_offset:41") && info.contains("lag:3") && info.contains("invalidations_applied:1"))
        try await node.stop()
    }
}
