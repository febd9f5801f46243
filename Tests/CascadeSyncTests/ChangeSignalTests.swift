import CascadeSync
import NIOConcurrencyHelpers
import Testing

@Suite("Awaiting a condition with ChangeSignal")
struct ChangeSignalTests {
    @Test("a waiter wakes when another task makes its condition true")
    func wakesOnTheChangeThatMakesTheConditionTrue() async {
        let signal = ChangeSignal()
        let count = NIOLockedValueBox(0)
        let producer = Task {
            for _ in 0..<100 {
                count.withLockedValue { $0 += 1 }
                signal.changed()
                await Task.yield()
            }
        }
        let start = ContinuousClock.now
        let held = await signal.wait(until: .now + .seconds(30)) { count.withLockedValue { $0 } >= 100 }
        await producer.value
        #expect(held)
        // Woken by the changes, not by the deadline (after which the condition holds anyway).
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test("a change made after the waiter looked, before it sleeps, is not lost")
    func changeBeforeSleepingEndsTheWait() async {
        let signal = ChangeSignal()
        let seen = signal.changes
        signal.changed()
        let start = ContinuousClock.now
        await signal.awaitChange(after: seen, until: .now + .seconds(30))
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test("with no change, the wait ends at its deadline and says the condition does not hold")
    func deadlineEndsTheWait() async {
        let signal = ChangeSignal()
        let deadline = ContinuousClock.now + .milliseconds(50)
        let held = await signal.wait(until: deadline) { false }
        #expect(!held)
        #expect(ContinuousClock.now >= deadline)
    }

    @Test("cancelling the waiting task ends the wait long before its deadline")
    func cancellationEndsTheWait() async {
        let signal = ChangeSignal()
        let start = ContinuousClock.now
        let waiter = Task { await signal.awaitChange(after: signal.changes, until: .now + .seconds(60)) }
        waiter.cancel()
        await waiter.value
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test("a cancelled wait for a condition that never holds returns false instead of spinning to its deadline")
    func cancelledConditionWaitReturns() async {
        let signal = ChangeSignal()
        let start = ContinuousClock.now
        let waiter = Task { await signal.wait(until: .now + .seconds(60)) { false } }
        waiter.cancel()
        let held = await waiter.value
        #expect(!held)
        #expect(ContinuousClock.now - start < .seconds(30))
    }
}
