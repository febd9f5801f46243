import CascadeClient
import CascadeWire
import Foundation

/// `cascade check`'s audit: every key of every node (SCAN, then CASCADE.META) against the
/// ledger version of each entity it depends on; suspects are read again after `settleMillis`
/// (an invalidation may be on its way) and, with `repair`, deleted.
public struct CheckAudit: Sendable {
    public var targets: CheckTargets
    public var timeout: Double
    public var settleMillis: Int
    public var scanCount: Int
    public var repair: Bool

    public init(targets: CheckTargets, timeout: Double, settleMillis: Int, scanCount: Int, repair: Bool) {
        self.targets = targets
        self.timeout = timeout
        self.settleMillis = settleMillis
        self.scanCount = scanCount
        self.repair = repair
    }

    /// With no node named, the live nodes the bus lists on `/nodes` (one per service).
    public static func discoverNodes(_ targets: CheckTargets, timeout: Double) async throws -> CheckTargets {
        guard targets.nodes.isEmpty, let admin = targets.admin else { return targets }
        var found = targets
        let client = try AdminClient(base: admin, token: targets.adminToken, timeout: timeout)
        for node in try await client.liveNodes() where found.nodes[node.service] == nil {
            found.nodes[node.service] = node.address
        }
        return found
    }

    public func run() async throws -> CheckReport {
        let started = Date()
        let ledgerClient = try AdminClient(base: targets.admin ?? "", token: targets.adminToken, timeout: timeout)
        let reader = NodeReader(nodes: targets.nodes, password: targets.requirepass, timeout: timeout, scanCount: scanCount)
        try await ledgerClient.ensureReady()

        var services = try await reader.scanAll(progress: CheckProgress())
        let refs = StalenessRules.entityRefs(in: services)
        let ledger = try await ledgerClient.records(for: refs)
        let extraFences = try await keyFences(of: StalenessRules.unseenKeyDependencies(in: services), reader: reader)
        var stale = StalenessRules.audit(services, ledger: ledger, extraKeyFences: extraFences)

        // An invalidation may be on its way: read the suspects again after a moment and judge
        // what they hold then (gone, or set again, is no longer stale).
        if !stale.isEmpty && settleMillis > 0 {
            try await Task.sleep(for: .milliseconds(settleMillis))
            for (service, keys) in Dictionary(grouping: stale, by: \.service) {
                let fresh = try await reader.metas(service: service, keys: keys.map(\.key))
                let byKey = Dictionary(fresh.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
                guard let index = services.firstIndex(where: { $0.service == service }) else { continue }
                services[index].keys = services[index].keys.compactMap { meta in
                    guard let update = byKey[meta.key] else { return meta }
                    return update.exists ? update : nil
                }
            }
            stale = StalenessRules.audit(services, ledger: ledger, extraKeyFences: extraFences)
        }

        if repair {
            for (service, keys) in Dictionary(grouping: stale.indices, by: { stale[$0].service }) {
                let deleted = try await reader.delete(service: service, keys: keys.map { stale[$0].key })
                for (index, done) in zip(keys, deleted) { stale[index].repaired = done }
            }
        }
        return CheckReport(
            services: services, stale: stale, ledgerLookups: refs.count, finishedAt: Date(),
            durationSeconds: Date().timeIntervalSince(started), repair: repair)
    }

    /// Key fences of dependency keys the scan did not see, read from their own nodes.
    private func keyFences(of unseen: [String: Set<String>], reader: NodeReader) async throws -> [String: KeyMeta.KeyFence] {
        var fences: [String: KeyMeta.KeyFence] = [:]
        for (service, keys) in unseen where reader.nodes[service] != nil {
            for meta in try await reader.metas(service: service, keys: keys.sorted().map { Array($0.utf8) }) {
                if let fence = meta.keyFence { fences["\(service)/\(meta.name)"] = fence }
            }
        }
        return fences
    }
}
