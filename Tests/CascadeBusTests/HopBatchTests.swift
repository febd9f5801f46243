@testable import CascadeBus
import CascadeWire
import Testing

/// A span's hops go to their partitions as one message each (a JSON array), and so does the
/// credit it returns: what is read back is every hop, and every credit, in order.
@Suite struct HopBatchTests {
    private let events = OffsetTracker.PartitionKey(topic: "cascade.events", partition: 3)
    private let hopsTopic = "cascade.hops"

    private func hop(_ name: String, partition: Int32, skip: Int = 0) -> StateHop {
        var hop = StateHop(
            root: "Product#p-1@2", name: name, partition: partition, fence: EntityRef(entity: "Product", id: "p-1"), fenceVersion: 2,
            depth: 1, path: ["Product#p-1", name], skip: (0..<skip).map(UInt64.init))
        hop.origin = HopCredit.Origin(partition: 3, offset: 10, ticket: 7)
        hop.credit = 5
        hop.piece = UInt64(name.utf8.count)
        return hop
    }

    private func message(_ hop: StateHop) -> OutboundMessage {
        OutboundMessage(topic: hopsTopic, key: Array(hop.name.utf8), value: hop.encoded(), partition: hop.partition)
    }

    @Test func aSpansHopsGoOneMessagePerPartitionInOrder() throws {
        var span = EventSpan(partition: events, maxBatchBytes: 1 << 20, hopsTopic: hopsTopic)
        let sent = [hop("a/k:1", partition: 0), hop("b/k:2", partition: 5), hop("a/k:3", partition: 0), hop("c/k:4", partition: 5)]
        span.add(offset: 10, [message(sent[0]), message(sent[1])])
        span.add(offset: 11, [message(sent[2]), message(sent[3])])
        let outbound = span.finish()
        #expect(outbound.map(\.partition) == [0, 5])
        #expect(outbound.allSatisfy { $0.topic == hopsTopic && $0.keyString == "cascade.events/3" })
        let read = try outbound.map { try StateHop.decodeAll(try #require($0.value), partition: try #require($0.partition)) }
        #expect(read == [[sent[0], sent[2]], [sent[1], sent[3]]])
    }

    @Test func aBatchIsSealedBeforeItPassesTheCap() throws {
        let one = hop("a/k:1", partition: 2, skip: 20)
        let size = one.encoded().count
        // `[`, three hops, two commas, `]`.
        let cap = size * 3 + 4
        var span = EventSpan(partition: events, maxBatchBytes: cap, hopsTopic: hopsTopic)
        for offset in 0..<7 { span.add(offset: Int64(offset), [message(one)]) }
        let outbound = span.finish()
        #expect(outbound.count == 3, "3 + 3 + 1")
        #expect(outbound.allSatisfy { ($0.value?.count ?? .max) <= cap })
        let read = try outbound.flatMap { try StateHop.decodeAll(try #require($0.value), partition: 2) }
        #expect(read == Array(repeating: one, count: 7))
    }

    @Test func oneMessageReadAsSeveralResultsCountsAsOneEvent() {
        var span = EventSpan(partition: events, maxBatchBytes: 1 << 20, hopsTopic: hopsTopic)
        span.add(offset: 4, [message(hop("a/k:1", partition: 1))])
        span.add(offset: 4, [message(hop("a/k:2", partition: 1))])
        span.add(offset: 5, [])
        #expect(span.events == 2 && span.firstOffset == 4 && span.lastOffset == 5)
    }

    @Test func aBareHopAndAnArrayBothDecode() throws {
        let one = hop("a/k:1", partition: 9)
        #expect(try StateHop.decodeAll(one.encoded(), partition: 9) == [one])
        var batch = HopBatch(partition: 9)
        #expect(try StateHop.decodeAll(batch.finish(), partition: 9) == [])
        batch = HopBatch(partition: 9)
        batch.append(encodedHop: one.encoded())
        #expect(try StateHop.decodeAll(Array(" \n".utf8) + batch.finish(), partition: 9) == [one])
        #expect(throws: (any Error).self) { try StateHop.decodeAll(Array("[{\"root\":1}]".utf8), partition: 9) }
    }

    @Test func creditsGoBackOneMessagePerPartition() throws {
        let credits = [(2, 1), (4, 2), (2, 3)].map { HopCredit(origin: .init(partition: Int32($0.0), offset: 1, ticket: 1), credit: 1, piece: UInt64($0.1)) }
        let batches = HopCredit.batches(credits)
        #expect(batches.map { $0.map(\.piece) } == [[1, 3], [2]])
        #expect(try HopCredit.decodeAll(HopCredit.encode(batch: batches[0])) == batches[0])
        #expect(try HopCredit.decodeAll(credits[1].encoded()) == [credits[1]])
    }
}
