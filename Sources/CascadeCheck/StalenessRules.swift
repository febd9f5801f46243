import CascadeClient
import CascadeWire

/// Why a cached key is stale.
public enum StaleReason: Sendable, Equatable, CustomStringConvertible {
    /// DEPS named version `registered`; the bus's ledger knows a newer one.
    case newerVersion(dependency: String, registered: UInt64, ledger: UInt64)
    /// An entity named without a version changed after the key was set, and the node's fence
    /// shows no invalidation for that change.
    case changedAfterSet(dependency: String, ledgerVersion: UInt64, changedAtMillis: Int64, setAtMillis: Int64, fence: UInt64?)
    /// A cached key it was computed from was invalidated after it was set.
    case dependencyInvalidated(dependency: String, invalidatedAtMillis: Int64, setAtMillis: Int64)
    /// A cached key it was computed from is itself stale.
    case dependsOnStale(dependency: String)

    public var description: String {
        switch self {
        case .newerVersion(let dependency, let registered, let ledger):
            return "\(dependency) was cached at version \(registered) but the ledger is at version \(ledger)"
        case .changedAfterSet(let dependency, let version, let changedAt, let setAt, let fence):
            let applied = fence.map { "the node's fence is at version \($0)" } ?? "the node has no fence for it"
            return "\(dependency) changed (version \(version)) \(changedAt - setAt) ms after the key was set and \(applied)"
        case .dependencyInvalidated(let dependency, let invalidatedAt, let setAt):
            return "\(dependency) was invalidated \(invalidatedAt - setAt) ms after the key was set"
        case .dependsOnStale(let dependency):
            return "\(dependency) is stale"
        }
    }

    /// A short machine name, for JSON.
    public var kind: String {
        switch self {
        case .newerVersion: return "newer_version"
        case .changedAfterSet: return "changed_after_set"
        case .dependencyInvalidated: return "dependency_invalidated"
        case .dependsOnStale: return "depends_on_stale"
        }
    }
}

/// The keys one node holds.
public struct ServiceKeys: Sendable {
    public var service: String
    public var keys: [KeyMeta]

    public init(service: String, keys: [KeyMeta]) {
        self.service = service
        self.keys = keys
    }
}

public struct StaleKey: Sendable, Equatable {
    public var service: String
    public var key: [UInt8]
    public var reasons: [StaleReason]
    /// Set by `--repair` once the node confirmed the delete.
    public var repaired = false

    public init(service: String, key: [UInt8], reasons: [StaleReason]) {
        self.service = service
        self.key = key
        self.reasons = reasons
    }

    public var name: String { String(decoding: key, as: UTF8.self) }
}

/// The rules that make a key stale, free of any I/O.
public enum StalenessRules {
    enum Target: Hashable {
        case entity(String)
        case key(String)
    }

    static func target(_ dependency: KeyMeta.Dependency, service: String) -> Target? {
        switch try? CascadeWire.Dependency.parse(dependency.tag, service: service) {
        case .entity(let ref, _)?: return .entity(ref.description)
        case .key(let ref)?: return .key(ref.description)
        case nil: return nil
        }
    }

    /// The entity instances (`Entity#id`) whose ledger versions the rules need.
    public static func entityRefs(in services: [ServiceKeys]) -> Set<String> {
        var refs = Set<String>()
        for node in services {
            for meta in node.keys {
                for dependency in meta.dependencies {
                    if case .entity(let ref)? = target(dependency, service: node.service) { refs.insert(ref) }
                }
            }
        }
        return refs
    }

    /// Cached keys named as dependencies that the scan did not see (gone, perhaps invalidated):
    /// their key fences are worth a `CASCADE.META` on their own node.
    public static func unseenKeyDependencies(in services: [ServiceKeys]) -> [String: Set<String>] {
        let seen = Set(services.flatMap { node in node.keys.map { "\(node.service)/\($0.name)" } })
        var missing: [String: Set<String>] = [:]
        for node in services {
            for meta in node.keys {
                for dependency in meta.dependencies {
                    guard case .key(let tag)? = target(dependency, service: node.service), !seen.contains(tag),
                          let slash = tag.firstIndex(of: "/") else { continue }
                    missing[String(tag[..<slash]), default: []].insert(String(tag[tag.index(after: slash)...]))
                }
            }
        }
        return missing
    }

    /// The reasons one key is stale by its own dependencies; empty when it is not.
    /// `keyFences` maps `service/key` to when that key was last invalidated.
    public static func reasons(
        for meta: KeyMeta, service: String, ledger: [String: LedgerRecord], keyFences: [String: KeyMeta.KeyFence]
    ) -> [StaleReason] {
        guard meta.exists else { return [] }
        var reasons: [StaleReason] = []
        for dependency in meta.dependencies {
            switch target(dependency, service: service) {
            case .entity(let ref)?:
                guard let record = ledger[ref] else { continue }
                if let registered = dependency.version {
                    if record.version > registered {
                        reasons.append(.newerVersion(dependency: dependency.dep, registered: registered, ledger: record.version))
                    }
                } else if let setAt = meta.setAtMillis, record.atMillis > setAt, (dependency.fence ?? 0) < record.version {
                    reasons.append(.changedAfterSet(
                        dependency: dependency.dep, ledgerVersion: record.version, changedAtMillis: record.atMillis,
                        setAtMillis: setAt, fence: dependency.fence))
                }
            case .key(let tag)?:
                if let setAt = meta.setAtMillis, let fence = keyFences[tag], fence.atMillis > setAt {
                    reasons.append(.dependencyInvalidated(dependency: tag, invalidatedAtMillis: fence.atMillis, setAtMillis: setAt))
                }
            case nil:
                continue
            }
        }
        return reasons
    }

    /// Every stale key: those stale by their own dependencies, then, transitively, every key
    /// computed from a stale key (deleting one does not cascade, so they would survive a repair).
    public static func audit(
        _ services: [ServiceKeys], ledger: [String: LedgerRecord], extraKeyFences: [String: KeyMeta.KeyFence] = [:]
    ) -> [StaleKey] {
        var keyFences = extraKeyFences
        for node in services {
            for meta in node.keys { if let fence = meta.keyFence { keyFences["\(node.service)/\(meta.name)"] = fence } }
        }
        var stale: [String: StaleKey] = [:]
        var order: [String] = []
        var dependents: [String: [(tag: String, service: String, meta: KeyMeta)]] = [:]
        for node in services {
            for meta in node.keys where meta.exists {
                let tag = "\(node.service)/\(meta.name)"
                for dependency in meta.dependencies {
                    if case .key(let dependencyTag)? = target(dependency, service: node.service) {
                        dependents[dependencyTag, default: []].append((tag, node.service, meta))
                    }
                }
                let reasons = reasons(for: meta, service: node.service, ledger: ledger, keyFences: keyFences)
                if !reasons.isEmpty, stale[tag] == nil {
                    stale[tag] = StaleKey(service: node.service, key: meta.key, reasons: reasons)
                    order.append(tag)
                }
            }
        }
        var queue = order
        while let tag = queue.popLast() {
            for dependent in dependents[tag] ?? [] {
                if stale[dependent.tag] == nil {
                    stale[dependent.tag] = StaleKey(service: dependent.service, key: dependent.meta.key, reasons: [.dependsOnStale(dependency: tag)])
                    order.append(dependent.tag)
                    queue.append(dependent.tag)
                } else if stale[dependent.tag]?.reasons.contains(.dependsOnStale(dependency: tag)) == false {
                    stale[dependent.tag]?.reasons.append(.dependsOnStale(dependency: tag))
                }
            }
        }
        return order.compactMap { stale[$0] }
    }
}
