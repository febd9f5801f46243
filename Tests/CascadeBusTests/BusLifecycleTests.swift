@testable import CascadeBus
import Testing

/// The bus's lifecycle decisions, with stand-in consumers and waiters. (Each transition is
/// called before `#expect`: the macro cannot take a mutating call.)
@Suite("The bus's lifecycle")
struct BusLifecycleTests {
    typealias Lifecycle = BusLifecycle<String, String>

    @Test("a consumer made after stopping began is refused, for its maker to shut down")
    func consumerAfterStopIsRefused() {
        var lifecycle = Lifecycle()
        _ = lifecycle.beginStopping()
        let accepted = lifecycle.consumerStarted("late consumer")
        #expect(!accepted)
        #expect(lifecycle.consumer == nil)
    }

    @Test("stopping keeps the consumer for shutdown, refuses new batches, and begins once")
    func stoppingKeepsTheConsumer() {
        var lifecycle = Lifecycle()
        let accepted = lifecycle.consumerStarted("consumer")
        let entered = lifecycle.enterBatch()
        let periodicWait = lifecycle.waitForStopping("periodic tasks")
        #expect(accepted && entered && periodicWait == .suspended)

        let stop = lifecycle.beginStopping()
        let secondStop = lifecycle.beginStopping()
        #expect(stop.first && stop.released == ["periodic tasks"])
        #expect(!secondStop.first && secondStop.released.isEmpty)
        #expect(lifecycle.consumer == "consumer")
        let enteredWhileStopping = lifecycle.enterBatch()
        #expect(!enteredWhileStopping)

        _ = lifecycle.finishStopping()
        #expect(lifecycle.consumer == nil && lifecycle.isStopping)
    }

    @Test("waiting for the stop to finish lasts until it is finished, not only begun")
    func stoppedWaitersWaitForTheEnd() {
        var lifecycle = Lifecycle()
        _ = lifecycle.consumerStarted("consumer")
        let beforeStop = lifecycle.waitForStopped("run")
        let begun = lifecycle.beginStopping()
        let whileStopping = lifecycle.waitForStopped("late")
        let released = lifecycle.finishStopping()
        let afterStop = lifecycle.waitForStopped("after")
        #expect(beforeStop == .suspended && whileStopping == .suspended)
        #expect(begun.released.isEmpty && released == ["run", "late"] && afterStop == .resumeNow)
    }

    @Test("waiting for idle lasts exactly as long as the batch in hand")
    func idleFollowsTheBatch() {
        var lifecycle = Lifecycle()
        _ = lifecycle.consumerStarted("consumer")
        let earlyWait = lifecycle.waitForIdle("before any batch")
        _ = lifecycle.enterBatch()
        let shutdownWait = lifecycle.waitForIdle("shutdown")
        _ = lifecycle.beginStopping()
        let released = lifecycle.leaveBatch()
        let laterWait = lifecycle.waitForIdle("after")
        #expect(earlyWait == .resumeNow && shutdownWait == .suspended)
        #expect(released == ["shutdown"])
        #expect(laterWait == .resumeNow)
    }

    @Test("those waiting for partitions are released by an assignment or by stopping")
    func partitionWaitersAreReleased() {
        var assigned = Lifecycle()
        let firstWait = assigned.waitForPartitions("first")
        let releasedByAssignment = assigned.partitionsAssigned()
        let laterWait = assigned.waitForPartitions("later")
        #expect(firstWait == .suspended && releasedByAssignment == ["first"] && laterWait == .resumeNow)

        var stopped = Lifecycle()
        let pendingWait = stopped.waitForPartitions("waiting")
        let releasedByStop = stopped.beginStopping().released
        let afterStopWait = stopped.waitForPartitions("after stop")
        #expect(pendingWait == .suspended && releasedByStop == ["waiting"] && afterStopWait == .resumeNow)
    }
}
