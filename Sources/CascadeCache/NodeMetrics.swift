import CascadeStore
import Metrics

/// The node's swift-metrics instruments; whichever backend the process bootstraps (Prometheus
/// for `/metrics`) exports them.
package struct NodeMetrics: Sendable {
    let invalidationsApplied = Counter(label: "cascade_node_invalidations_applied_total")
    let keysInvalidated = Counter(label: "cascade_node_keys_invalidated_total")
    let applyLatency = Timer(label: "cascade_node_apply_latency_seconds")
    /// A sampled read batch's time in the node, from its first command to its replies' flush.
    package let commandDuration = Timer(label: "cascade_node_command_duration_seconds")
    let registrations = Counter(label: "cascade_node_registrations_total")
    /// SET ... DEPS refused (-TRYAGAIN) because the registration queue was full.
    let registrationsRefused = Counter(label: "cascade_node_registrations_refused_total")
    let tombstones = Counter(label: "cascade_node_tombstones_total")
    let refreshHints = Counter(label: "cascade_node_refresh_hints_total")
    let hits = Gauge(label: "cascade_node_hits")
    let misses = Gauge(label: "cascade_node_misses")
    let hitRatio = Gauge(label: "cascade_node_hit_ratio")
    let keys = Gauge(label: "cascade_node_keys")
    let memory = Gauge(label: "cascade_node_used_memory_bytes")
    let evictions = Gauge(label: "cascade_node_evictions")
    let lag = Gauge(label: "cascade_node_consumer_lag")
    let degraded = Gauge(label: "cascade_node_degraded")
    let staleness = Gauge(label: "cascade_node_staleness_seconds")

    /// Hits, misses and the rest are counted inside the store's shards for free; they are
    /// copied to the gauges on the maintenance tick instead of touching a metric per command.
    func publish(_ stats: StoreStats, lag consumerLag: Int64) {
        hits.record(stats.hits)
        misses.record(stats.misses)
        let lookups = stats.hits + stats.misses
        hitRatio.record(lookups == 0 ? 0 : Double(stats.hits) / Double(lookups))
        keys.record(stats.keys)
        memory.record(stats.usedBytes)
        evictions.record(stats.evictions)
        lag.record(consumerLag)
    }
}
