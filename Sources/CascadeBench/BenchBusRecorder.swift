import Foundation
import Histogram
import NIOConcurrencyHelpers

/// Counts the events a run under test has fully acknowledged, lets the producing side wait for
/// them (flow control, end of a phase), and keeps the timings of the latency phase.
final class BenchBusRecorder: Sendable {
    private struct State {
        var acked = 0
        var waiter: (target: Int, continuation: CheckedContinuation<Void, Never>)?
        var recording = false
        /// Latency phase only: when each event's last message was acked, by position.
        var ackNanos: [Int64: UInt64] = [:]
        /// Latency phase only: which stream index landed at each position (our producer's reports).
        var indexAt: [Int64: Int] = [:]
    }

    private let state = NIOLockedValueBox(State())
    /// Events with an index below this are not timed.
    private let firstTimed: Int

    init(firstTimed: Int) {
        self.firstTimed = firstTimed
    }

    static func nanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    private static func position(_ partition: Int32, _ offset: Int64) -> Int64 { Int64(partition) << 40 | offset }

    var acknowledged: Int { state.withLockedValue { state in state.acked } }

    func startRecording() { state.withLockedValue { state in state.recording = true } }

    /// The run under test acknowledged every message caused by the `count` events it consumed
    /// from this partition at `offsets`.
    func eventsAcknowledged(partition: Int32, offsets: ClosedRange<Int64>, count: Int) {
        let now = Self.nanos()
        let resume = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.acked += count
            if state.recording {
                for offset in offsets { state.ackNanos[Self.position(partition, offset)] = now }
            }
            guard let waiting = state.waiter, state.acked >= waiting.target else { return nil }
            state.waiter = nil
            return waiting.continuation
        }
        resume?.resume()
    }

    /// Our producer's report: the event with stream index `index` landed at this position.
    func eventDelivered(index: Int, partition: Int32, offset: Int64) {
        guard index >= firstTimed else { return }
        state.withLockedValue { state in state.indexAt[Self.position(partition, offset)] = index }
    }

    /// Returns once at least `count` events are acknowledged (one waiter at a time).
    /// A continuation, not `ChangeSignal`: this is the benchmark's flow control, woken many times
    /// a second, and a `ChangeSignal` wait starts a deadline task per wait.
    func waitForAcknowledged(_ count: Int) async {
        await withCheckedContinuation { continuation in
            let ready = state.withLockedValue { state -> Bool in
                if state.acked >= count { return true }
                state.waiter = (count, continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Produce-to-acknowledged latency in microseconds of the timed events.
    func latencies(producedNanos: [UInt64]) -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000)
        state.withLockedValue { state in
            for (position, done) in state.ackNanos {
                guard let index = state.indexAt[position], index - firstTimed < producedNanos.count else { continue }
                let sent = producedNanos[index - firstTimed]
                _ = histogram.record(done > sent ? (done - sent) / 1000 : 0)
            }
        }
        return histogram
    }
}
