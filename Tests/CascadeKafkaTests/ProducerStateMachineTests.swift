@testable import CascadeKafka
import Testing

/// The producer's decisions, without librdkafka: threads, report waiters and room waiters are
/// stand-in values.
@Suite("The producer's state machine")
struct ProducerStateMachineTests {
    typealias Machine = ProducerStateMachine<String, String, String>

    private func running() -> Machine {
        var machine = Machine()
        machine.started("poll thread")
        return machine
    }

    @Test("a caller that found the queue full after a batch it did not see retries instead of waiting")
    func roomMadeBeforeTheWaitIsNotLost() {
        var machine = running()
        let seen = machine.deliveryBatches
        // The poll thread handles the batch that empties the queue before the caller waits.
        _ = machine.delivered([(token: 1, report: "ok")] as [(token: UInt64, report: String)])
        #expect(machine.waitForSpace("caller", seenBatches: seen) == .retry)
        #expect(machine.delivered([] as [(token: UInt64, report: String)]).space.isEmpty)
    }

    @Test("a caller waits for room until the next batch, which wakes it")
    func nextBatchWakesTheWaiter() {
        var machine = running()
        #expect(machine.waitForSpace("caller", seenBatches: machine.deliveryBatches) == .wait)
        #expect(machine.delivered([] as [(token: UInt64, report: String)]).space == ["caller"])
    }

    @Test("each report reaches the send that awaits its token; others' tokens are ignored")
    func reportsGoToTheirSends() throws {
        var machine = running()
        let first = machine.awaitReport("first")
        let second = machine.awaitReport("second")
        let tokens = try #require(first.flatMap { first in second.map { (first, $0) } })
        #expect(tokens.0 != tokens.1)
        #expect(tokens.0 & Machine.sendTokenBit != 0 && tokens.1 & Machine.sendTokenBit != 0)
        let (reports, _) = machine.delivered([(token: tokens.1, report: "at 7"), (token: 42, report: "someone else's")])
        #expect(reports.map { "\($0.0) \($0.1)" } == ["second at 7"])
        #expect(machine.abandon(tokens.0) == "first")
        #expect(machine.abandon(tokens.1) == nil)
    }

    @Test("closing hands over the thread once, refuses new sends and releases every waiter")
    func closingReleasesEveryone() {
        var machine = running()
        _ = machine.awaitReport("pending send")
        #expect(machine.waitForSpace("blocked producer", seenBatches: machine.deliveryBatches) == .wait)
        #expect(machine.beginClosing() == "poll thread")
        #expect(machine.beginClosing() == nil)
        #expect(machine.awaitReport("late send") == nil)
        #expect(machine.waitForSpace("late producer", seenBatches: machine.deliveryBatches) == .retry)
        let (reports, space) = machine.close()
        #expect(reports == ["pending send"])
        #expect(space == ["blocked producer"])
        #expect(!machine.isOpen)
    }
}
