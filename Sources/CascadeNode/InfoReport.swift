import CascadeCache
import CascadeStore
import Foundation

/// The INFO text: Redis's sections that clients and tools read, plus `# Cascade`.
struct InfoReport {
    static let redisVersion = "7.0.0"
    let node: CacheNode

    func text(sections requested: [String]) -> String {
        let wanted = Set(requested.map { $0.lowercased() })
        let all = wanted.isEmpty || wanted.contains("all") || wanted.contains("everything") || wanted.contains("default")
        let stats = node.store.stats()
        let configuration = node.configuration
        let now = WallClock.nowMillis()
        var sections: [(String, [(String, String)])] = []
        sections.append(("Server", [
            ("redis_version", InfoReport.redisVersion),
            ("redis_mode", "standalone"),
            ("cascade_service", node.service),
            ("process_id", String(ProcessInfo.processInfo.processIdentifier)),
            ("tcp_port", String(configuration.port)),
            ("uptime_in_seconds", String((now - node.startedAtMillis) / 1000)),
        ]))
        sections.append(("Clients", [("connected_clients", String(node.counters.connectedClients))]))
        sections.append(("Memory", [
            ("used_memory", String(stats.usedBytes)),
            ("used_memory_rss", String(InfoReport.residentBytes() ?? 0)),
            ("maxmemory", String(configuration.store.maxMemoryBytes ?? 0)),
            ("maxmemory_policy", configuration.store.maxMemoryBytes == nil ? "noeviction" : "allkeys-lru"),
        ]))
        sections.append(("Stats", [
            ("total_commands_processed", String(node.counters.commands.load(ordering: .relaxed))),
            ("keyspace_hits", String(stats.hits)),
            ("keyspace_misses", String(stats.misses)),
            ("evicted_keys", String(stats.evictions)),
            ("expired_keys", String(stats.expired)),
        ]))
        sections.append(("Keyspace", stats.keys == 0 ? [] : [
            ("db0", "keys=\(stats.keys),expires=\(stats.keysWithExpiry),avg_ttl=0"),
        ]))
        let lookups = stats.hits + stats.misses
        let ratio = lookups == 0 ? 0 : Double(stats.hits) / Double(lookups)
        sections.append(("Cascade", [
            ("service", node.service),
            ("hits", String(stats.hits)),
            ("misses", String(stats.misses)),
            ("hit_ratio", String(format: "%.4f", ratio)),
            ("invalidations_applied", String(node.counters.invalidationsApplied)),
            ("keys_invalidated", String(node.counters.keysInvalidated)),
            ("last_applied_offset", String(node.counters.lastAppliedOffset)),
            ("lag", String(node.counters.lag)),
            ("applied", node.positions.positions.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")),
            ("staleness_ms", node.stalenessMillis(now: now).map(String.init) ?? "-1"),
            ("max_staleness_ms", configuration.maxStalenessMillis.map(String.init) ?? "0"),
            ("degraded", node.servesReads() ? "0" : "1"),
            ("degraded_reads", String(node.counters.degradedReads.load(ordering: .relaxed))),
            ("registration_queue_bytes", String(node.publisher.queuedBytes)),
            ("registration_queue_limit", String(configuration.registrationQueueLimit)),
            ("registrations_refused", String(node.counters.registrationsRefused.load(ordering: .relaxed))),
            ("tags", String(stats.tags)),
            ("leases", String(stats.leases)),
            ("key_fences", String(stats.keyFences)),
            ("entity_fences", String(stats.entityFences)),
        ] + familyFields()))
        var text = ""
        for (name, fields) in sections where all || wanted.contains(name.lowercased()) {
            if !text.isEmpty { text += "\r\n" }
            text += "# \(name)\r\n"
            for (key, value) in fields { text += "\(key):\(value)\r\n" }
        }
        return text
    }

    /// With `--graph`: one line per family and one per tier of the node, e.g.
    /// `family:product-page:keys=2,hits=5,misses=1,hit_ratio=0.8333,evictions=0,ttl=600,...`.
    func familyFields() -> [(String, String)] {
        guard let directory = node.families, let monitor = node.familyMonitor else { return [] }
        let stats = node.store.familyStats()
        var fields: [(String, String)] = []
        for family in directory.families where Int(family.number) < stats.count {
            let figures = stats[Int(family.number)]
            let ttl = monitor.ttlMillis(of: family, store: node.store)
            fields.append(("family:\(family.name)", [
                "keys=\(figures.keys)", "hits=\(figures.hits)", "misses=\(figures.misses)",
                "hit_ratio=\(String(format: "%.4f", figures.hitRatio))", "evictions=\(figures.evictions)",
                "ttl=\(ttl / 1000)", "ttl_mode=\(family.adaptive != nil ? "adaptive" : family.ttlMillis != nil ? "fixed" : "none")",
                "bytes=\(figures.bytes)", "invalidations=\(figures.invalidations)", "expired=\(figures.expired)",
                "tier=\(family.tier.rawValue)",
            ].joined(separator: ",")))
        }
        if let unattributed = stats.first, unattributed.keys + unattributed.hits + unattributed.misses > 0 {
            fields.append(("family:-", "keys=\(unattributed.keys),hits=\(unattributed.hits),misses=\(unattributed.misses),"
                + "hit_ratio=\(String(format: "%.4f", unattributed.hitRatio)),evictions=\(unattributed.evictions),ttl=0,"
                + "bytes=\(unattributed.bytes),invalidations=\(unattributed.invalidations)"))
        }
        let classBytes = node.store.classBytes()
        let budget = node.configuration.store.maxMemoryBytes
        let policy = node.configuration.store.families
        for (index, tier) in directory.tiers.enumerated() where index < classBytes.count {
            let keys = directory.families.filter { $0.tier == tier }.reduce(0) { $0 + stats[Int($1.number)].keys }
                + (directory.evictionClass(of: directory.serviceTier) == index ? stats[0].keys : 0)
            let share = index < policy.classShares.count ? policy.classShares[index] : 0
            fields.append(("tier:\(tier.rawValue)", [
                "bytes=\(classBytes[index])", "keys=\(keys)", "eviction_order=\(index)",
                "memory_share=\(String(format: "%.2f", share))",
                "budget=\(budget.map { String(Int(Double($0) * share)) } ?? "0")",
            ].joined(separator: ",")))
        }
        return fields
    }

    /// Resident memory from /proc (Linux); nil elsewhere.
    static func residentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return digits.map { $0 * 1024 }
        }
        return nil
    }
}
