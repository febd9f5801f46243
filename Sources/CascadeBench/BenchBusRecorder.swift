import Foundation
import Histogram

/// Counts the events a run under test has fully acknowledged, lets the producing side wait for
/// them (flow control, end of a phase), and keeps the timings of the latency phase.
// @unchecked Sendable: all state is touched only under its lock.
final class BenchBusRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var acked = 0
    private var waiter: (target: Int, continuation: CheckedContinuation<Void, Never>)?
    private var recording = false
    /// Latency phase only: when each event's last message was acked, by position.
    private var ackNanos: [Int64: UInt64] = [:]
    /// Latency phase only: which stream index landed at each position (our producer's reports).
    private var indexAt: [Int64: Int] = [:]
    /// Events with an index below this are not timed.
    private let firstTimed: Int

    init(firstTimed: Int) {
        self.firstTimed = firstTimed
    }

    static func nanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    private static func position(_ partition: Int32, _ offset: Int64) -> Int64 { Int64(partition) << 40 | offset }

    var acknowledged: Int { lock.withLock { acked } }

    func startRecording() { lock.withLock { recording = true } }

    /// The run under test acknowledged every message caused by the `count` events it consumed
    /// from this partition at `offsets`.
    func eventsAcknowledged(partition: Int32, offsets: ClosedRange<Int64>, count: Int) {
        let now = Self.nanos()
        let resume = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            acked += count
            if recording {
                for offset in offsets { ackNanos[Self.position(partition, offset)] = now }
            }
            guard let waiting = waiter, acked >= waiting.target else { return nil }
            waiter = nil
            return waiting.continuation
        }
        resume?.resume()
    }

    /// Our producer's report: the event with stream index `index` landed at this position.
    func eventDelivered(index: Int, partition: Int32, offset: Int64) {
        guard index >= firstTimed else { return }
        lock.withLock { indexAt[Self.position(partition, offset)] = index }
    }

    /// Returns once at least `count` events are acknowledged (one waiter at a time).
    func waitForAcknowledged(_ count: Int) async {
        await withCheckedContinuation { continuation in
            let ready = lock.withLock { () -> Bool in
                if acked >= count { return true }
                waiter = (count, continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Produce-to-acknowledged latency in microseconds of the timed events.
    func latencies(producedNanos: [UInt64]) -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000)
        lock.withLock {
            for (position, done) in ackNanos {
                guard let index = indexAt[position], index - firstTimed < producedNanos.count else { continue }
                let sent = producedNanos[index - firstTimed]
                _ = histogram.record(done > sent ? (done - sent) / 1000 : 0)
            }
        }
        return histogram
    }
}
