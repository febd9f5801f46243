import NIOConcurrencyHelpers
import Prometheus

/// The bus's Prometheus metrics, on a registry of its own so several buses (tests) can live
/// in one process without a global bootstrap.
public final class BusMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let eventsIn: Counter
    /// Partitioned state: hops consumed, and produced (edge records, hops handed on).
    let hopsIn: Counter
    let hopsOut: Counter
    let edgeRecordsOut: Counter
    let partitionRebuilds: Counter
    let late: Counter
    let duplicates: Counter
    let conflicts: Counter
    let cyclesCollapsed: Counter
    let unresolvedBindings: Counter
    let registrations: Counter
    let racesInvalidated: Counter
    let fanOut: ValueHistogram
    let resolution: DurationHistogram
    let lag: Gauge
    let inFlight: Gauge
    let ledgerEntries: Gauge
    let indexedKeys: Gauge
    let gracedKeys: Gauge
    let takeovers: Counter
    /// After a takeover from a silent instance: its last invalidations read back, or not.
    let memoryReadBack: Counter
    let memoryNotReadBack: Counter
    let ownedPartitions: Gauge
    let liveInstances: Gauge
    let unownedPartitions: Gauge
    let rebuildBehind: Gauge
    let stateConsumerErrors: Counter
    /// `cascade_bus_invalidations_total` by service, made once each: asking the registry for
    /// every event took its lock on the hot path.
    private let invalidationCounters = NIOLockedValueBox<[String: Counter]>([:])

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        eventsIn = registry.makeCounter(name: "cascade_bus_events_total", help: "Domain events consumed.")
        hopsIn = registry.makeCounter(name: "cascade_bus_hops_total", help: "Cascade hops consumed from other shares (partitioned state).")
        hopsOut = registry.makeCounter(name: "cascade_bus_hops_sent_total", help: "Cascade hops handed on to other shares (partitioned state).")
        edgeRecordsOut = registry.makeCounter(
            name: "cascade_bus_edge_records_sent_total", help: "Edge records produced from registrations (partitioned state).")
        partitionRebuilds = registry.makeCounter(
            name: "cascade_bus_partition_rebuilds_total", help: "State partitions rebuilt on gaining them (partitioned state).")
        late = registry.makeCounter(name: "cascade_bus_late_events_total", help: "Events older than the ledger's version.")
        duplicates = registry.makeCounter(name: "cascade_bus_duplicate_events_total", help: "Redelivered events (same version and content).")
        conflicts = registry.makeCounter(name: "cascade_bus_conflicts_total", help: "Conflicts decided by policy.")
        cyclesCollapsed = registry.makeCounter(name: "cascade_bus_cycles_collapsed_total", help: "Cascades that went through a circular component.")
        unresolvedBindings = registry.makeCounter(name: "cascade_bus_unresolved_bindings_total", help: "Bindings an event could not fill.")
        registrations = registry.makeCounter(name: "cascade_bus_registrations_total", help: "Registrations read from the deps topic.")
        racesInvalidated = registry.makeCounter(name: "cascade_bus_registration_races_total", help: "Registrations already stale on arrival, invalidated at once.")
        fanOut = registry.makeValueHistogram(
            name: "cascade_bus_fanout_keys", buckets: [0, 1, 2, 5, 10, 50, 100, 1000, 10000, 100_000],
            help: "Keys one event invalidates in one service.")
        resolution = registry.makeDurationHistogram(
            name: "cascade_bus_resolution_seconds",
            buckets: [.microseconds(10), .microseconds(50), .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(50)],
            help: "Time from decoding an event to its messages being planned.")
        lag = registry.makeGauge(name: "cascade_bus_consumer_lag", help: "Events not consumed yet on the assigned partitions.")
        inFlight = registry.makeGauge(name: "cascade_bus_events_in_flight", help: "Events waiting for their messages' acknowledgements.")
        ledgerEntries = registry.makeGauge(name: "cascade_bus_ledger_entries", help: "Entity instances in the ledger.")
        indexedKeys = registry.makeGauge(name: "cascade_bus_indexed_keys", help: "Registered keys in the instance index.")
        gracedKeys = registry.makeGauge(
            name: "cascade_bus_graced_keys", help: "Keys whose value went while nothing depended on them, their edges kept for the grace.")
        takeovers = registry.makeCounter(
            name: "cascade_bus_takeovers_total", help: "Partitions this instance took over from an instance that went silent.")
        memoryReadBack = registry.makeCounter(
            name: "cascade_bus_takeover_memory_total", labels: [("result", "read")],
            help: "Takeovers after which what the silent instance invalidated lately was read back from the invalidation topics.")
        memoryNotReadBack = registry.makeCounter(
            name: "cascade_bus_takeover_memory_total", labels: [("result", "failed")],
            help: "Takeovers after which what the silent instance invalidated lately was read back from the invalidation topics.")
        ownedPartitions = registry.makeGauge(name: "cascade_bus_owned_partitions", help: "Partitions of the events topics this instance resolves.")
        liveInstances = registry.makeGauge(name: "cascade_bus_live_instances", help: "Ready bus instances whose beacons arrive, this one included.")
        unownedPartitions = registry.makeGauge(
            name: "cascade_bus_unowned_partitions", help: "Partitions no live instance resolves, as this instance sees the beacons.")
        rebuildBehind = registry.makeGauge(
            name: "cascade_bus_rebuild_behind", help: "Offsets of the state topics still to read before the bus is ready (0 once ready).")
        stateConsumerErrors = registry.makeCounter(
            name: "cascade_bus_state_consumer_errors_total", help: "Errors the consumer of the state topics reported.")
    }

    private func invalidations(_ service: String) -> Counter {
        invalidationCounters.withLockedValue { counters in
            if let counter = counters[service] { return counter }
            let counter = registry.makeCounter(name: "cascade_bus_invalidations_total", labels: [("service", service)])
            counters[service] = counter
            return counter
        }
    }

    func record(_ result: ProcessingResult, elapsed: Duration) {
        if result.hopsSent > 0 { hopsOut.increment(by: Int64(result.hopsSent)) }
        if result.outcome == .handedOn {
            hopsIn.increment()
        } else {
            eventsIn.increment()
            resolution.record(elapsed)
        }
        switch result.outcome {
        case .invalidated, .handedOn: break
        case .duplicate: duplicates.increment()
        case .late: late.increment()
        case .conflict: conflicts.increment()
        case .lateConflict:
            late.increment()
            conflicts.increment()
        case .deadLetter(let kind):
            registry.makeCounter(name: "cascade_bus_dead_letters_total", labels: [("reason", kind)]).increment()
            return
        case .skipped(let reason):
            registry.makeCounter(name: "cascade_bus_skipped_total", labels: [("reason", reason)]).increment()
            return
        }
        if result.cycleConflicts > 0 { conflicts.increment(by: Int64(result.cycleConflicts)) }
        if result.throughCycle { cyclesCollapsed.increment() }
        if !result.unresolved.isEmpty { unresolvedBindings.increment(by: Int64(result.unresolved.count)) }
        for service in result.fanOut {
            fanOut.record(Double(service.keys))
            invalidations(service.service).increment(by: Int64(service.keys))
        }
    }
}
