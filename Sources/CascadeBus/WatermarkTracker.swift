import CascadeWire
import Foundation
import NIOConcurrencyHelpers

/// What the bus may tell the services about each partition of the events topic it owns: how
/// far it has sent what the events caused (`through`), and since when it knows that nothing
/// published there is missing (`atMillis`). Nodes answer `CASCADE.AFTER` from the first and
/// bound their staleness with the second, so the second must never claim too much: it is the
/// start time of a round trip to the brokers that found the partition's end, once everything
/// before that end is sent. While the brokers cannot be reached it stays where it was.
///
/// Also remembers what each service was last told per partition, so that services an event
/// did not reach get a watermark soon after (`pending`) and all of them at least every
/// heartbeat. Thread-safe: the events loop, the end prober and the watermark sender share it.
final class WatermarkTracker: Sendable {
    private struct Partition {
        /// The next offset whose consequences are not sent yet.
        var next: Int64
        var currentAsOfMillis: Int64 = 0
        /// Ends seen by probes not reached yet: (end, when the probe started), oldest first.
        var probes: [(end: Int64, atMillis: Int64)] = []
        /// Per service, the `through` it was last told.
        var told: [String: Int64] = [:]
    }

    private struct State {
        var partitions: [Int32: Partition] = [:]
        /// Probes that start before this moment are not believed: the brokers were out of reach
        /// lately, and producers may still hold events from the outage that the end does not show.
        var distrustUntilMillis: Int64 = .min
    }

    private let state = NIOLockedValueBox(State())
    private let services: [String]
    /// How long after a failed or slow probe the ends seen are not believed.
    static let graceAfterOutageMillis: Int64 = 5_000

    init(services: [String]) {
        self.services = services
    }

    var owned: [Int32] { state.withLockedValue { Array($0.partitions.keys).sorted() } }

    /// The partition is this bus's now; everything before `next` was handled (committed).
    func assigned(_ partition: Int32, next: Int64) {
        state.withLockedValue { $0.partitions[partition] = Partition(next: next) }
    }

    func revoked(_ partition: Int32) {
        state.withLockedValue { $0.partitions[partition] = nil }
    }

    /// A probe failed, or took long enough that the brokers were stalled, at `atMillis`.
    func probeFailed(atMillis: Int64) {
        state.withLockedValue { $0.distrustUntilMillis = max($0.distrustUntilMillis, atMillis + Self.graceAfterOutageMillis) }
    }

    /// A round trip that started at `atMillis` found the partition ending at `end`.
    func probed(_ partition: Int32, end: Int64, atMillis: Int64) {
        state.withLockedValue { tracker in
            guard atMillis >= tracker.distrustUntilMillis, var state = tracker.partitions[partition] else { return }
            state.probes.append((end, atMillis))
            if state.probes.count > 64 { state.probes.removeFirst(state.probes.count - 64) }
            Self.settle(&state)
            tracker.partitions[partition] = state
        }
    }

    /// The watermark a batch sent for this partition through `offset` carries (its messages
    /// are not handed to the producer yet: `sent` follows once they are).
    func watermark(_ partition: Int32, through offset: Int64) -> SourceWatermark {
        state.withLockedValue { tracker in
            var state = tracker.partitions[partition] ?? Partition(next: offset + 1)
            state.next = max(state.next, offset + 1)
            Self.settle(&state)
            return SourceWatermark(partition: partition, through: offset, atMillis: state.currentAsOfMillis)
        }
    }

    /// Everything through `offset` is handed to the producer; `told` services got a batch
    /// with its watermark.
    func sent(_ partition: Int32, through offset: Int64, told: some Sequence<String>) {
        state.withLockedValue { tracker in
            guard var state = tracker.partitions[partition] else { return }
            state.next = max(state.next, offset + 1)
            Self.settle(&state)
            for service in told { state.told[service] = max(state.told[service] ?? -1, offset) }
            tracker.partitions[partition] = state
        }
    }

    /// Watermarks to send now, as (service, watermark): every owned partition to every
    /// service with `all` (the heartbeat), else only where a service is behind what was sent.
    func due(all: Bool) -> [(service: String, watermark: SourceWatermark)] {
        state.withLockedValue { tracker in
            var due: [(String, SourceWatermark)] = []
            for (partition, var state) in tracker.partitions {
                let through = state.next - 1
                for service in services where all || (state.told[service] ?? -1) < through {
                    due.append((service, SourceWatermark(partition: partition, through: through, atMillis: state.currentAsOfMillis)))
                    state.told[service] = through
                }
                tracker.partitions[partition] = state
            }
            return due
        }
    }

    private static func settle(_ state: inout Partition) {
        while let first = state.probes.first, first.end <= state.next {
            state.currentAsOfMillis = max(state.currentAsOfMillis, first.atMillis)
            state.probes.removeFirst()
        }
    }
}
