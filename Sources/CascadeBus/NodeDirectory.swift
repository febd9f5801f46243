import CascadeWire
import Foundation
import NIOConcurrencyHelpers

/// The latest report of every node, from `cascade.nodes`: which nodes are alive, where they
/// listen, how far each has applied. What `/nodes` lists. Thread-safe.
public final class NodeDirectory: Sendable {
    /// One node as `/nodes` shows it.
    public struct Entry: Codable, Sendable, Equatable {
        public var service: String
        public var node: String
        public var address: String
        public var applied: [String: Int64]
        public var stalenessMillis: Int64?
        public var lag: Int64
        public var degraded: Bool
        /// Milliseconds since its last report.
        public var lastSeenMillisAgo: Int64
        public var alive: Bool

        enum CodingKeys: String, CodingKey {
            case service, node, address, applied, lag, degraded, alive
            case stalenessMillis = "staleness_ms", lastSeenMillisAgo = "last_seen_ms_ago"
        }
    }

    /// A node that has not reported for this long is not alive.
    public static let aliveWithinMillis: Int64 = 3_000
    /// Nor listed at all after this long.
    public static let forgetAfterMillis: Int64 = 60_000

    private struct State {
        var reports: [String: NodeReport] = [:]
        /// Per service, the apply delays its nodes reported lately, with when.
        var recentApplyDelays: [String: [(atMillis: Int64, millis: Int64)]] = [:]
    }

    private let state = NIOLockedValueBox(State())
    /// How far back `applyDelayMillis` looks.
    static let applyDelayMemoryMillis: Int64 = 10_000

    public init() {}

    public func merge(_ report: NodeReport) {
        state.withLockedValue { state in
            if let known = state.reports[report.kafkaKey], known.atMillis > report.atMillis { return }
            state.reports[report.kafkaKey] = report
            var recent = state.recentApplyDelays[report.service, default: []]
            recent.removeAll { report.atMillis - $0.atMillis > Self.applyDelayMemoryMillis }
            recent.append((report.atMillis, report.applyDelayMillis ?? 0))
            state.recentApplyDelays[report.service] = recent
        }
    }

    /// How long after the bus invalidated a key a node of `service` may still have served its
    /// old value: the longest apply delay its nodes reported in the last 10 s (0 when none
    /// did). Not their staleness: that grows while the bus is down or idle, when nothing waits.
    /// The race check waits that much longer before it trusts a value computed from the key.
    func applyDelayMillis(service: String, nowMillis: Int64 = Timestamps.nowMillis()) -> Int64 {
        state.withLockedValue { state in
            let recent = state.recentApplyDelays[service]?.filter { nowMillis - $0.atMillis <= Self.applyDelayMemoryMillis }
            return recent?.map(\.millis).max() ?? 0
        }
    }

    /// The longest apply delay any service's nodes reported in the last 10 s: how much further
    /// back than the race window a read back must reach.
    func longestApplyDelayMillis(nowMillis: Int64 = Timestamps.nowMillis()) -> Int64 {
        let services = state.withLockedValue { Array($0.recentApplyDelays.keys) }
        return services.map { applyDelayMillis(service: $0, nowMillis: nowMillis) }.max() ?? 0
    }

    /// Every node heard of within `forgetAfterMillis`, by service then address.
    public func entries(nowMillis: Int64 = Timestamps.nowMillis()) -> [Entry] {
        state.withLockedValue { state in
            state.reports = state.reports.filter { nowMillis - $0.value.atMillis < Self.forgetAfterMillis }
            return state.reports.values.map { report in
                let age = max(0, nowMillis - report.atMillis)
                return Entry(
                    service: report.service, node: report.node, address: report.address, applied: report.applied,
                    stalenessMillis: report.stalenessMillis, lag: report.lag, degraded: report.degraded,
                    lastSeenMillisAgo: age, alive: age < Self.aliveWithinMillis)
            }
            .sorted { ($0.service, $0.address, $0.node) < ($1.service, $1.address, $1.node) }
        }
    }
}
