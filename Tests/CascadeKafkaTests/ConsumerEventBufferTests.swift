import Foundation
import Testing

@testable import CascadeKafka

@Suite("The poll thread's hand-off to the consumer's reader")
struct ConsumerEventBufferTests {
    @Test("events pushed from another thread arrive whole and in order, and the end comes after them")
    func handOffInOrder() async {
        let buffer = ConsumerEventBuffer(capacity: 4)
        let count = 2_000
        let pusher = Thread {
            for index in 0..<count { buffer.push(.assigned([TopicPartition(topic: "t", partition: 0, offset: Int64(index))])) }
            buffer.finish()
        }
        pusher.start()
        var offsets: [Int64] = []
        while let event = await buffer.next() {
            if case .assigned(let partitions) = event { offsets += partitions.map(\.offset) }
        }
        #expect(offsets == (0..<Int64(count)).map { $0 })
    }

    @Test("a wake-up reaches a waiting reader as .woken, and is dropped when an event is there by then")
    func wakeUps() async {
        let buffer = ConsumerEventBuffer(capacity: 4)
        buffer.wake()
        guard case .woken = await buffer.next() else { Issue.record("expected .woken"); return }
        buffer.wake()
        buffer.push(.revoked([]))
        guard case .revoked = await buffer.next() else { Issue.record("expected the event, not the wake-up"); return }
        let waiting = Task { await buffer.next() }
        buffer.wake()
        guard case .woken = await waiting.value else { Issue.record("expected .woken"); return }
        buffer.finish()
        #expect(await buffer.next() == nil)
    }
}
