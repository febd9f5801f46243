/// How long-lived and how important a service's caches are; operators sort alerts by it.
public enum Tier: String, CaseIterable, Hashable, Sendable, Codable {
    case critical, standard, background, archive
}

/// `ttl: adaptive`: the node learns how often the family's values change and picks the TTL of
/// values stored without one within these bounds (nil: the tier's bounds, see docs/node.md).
public struct AdaptiveTTL: Hashable, Sendable {
    public var minMillis: Int64?
    public var maxMillis: Int64?

    public init(minMillis: Int64? = nil, maxMillis: Int64? = nil) {
        self.minMillis = minMillis
        self.maxMillis = maxMillis
    }
}

/// How the bus picks a winner when two events for one entity instance conflict.
public enum ConflictPolicy: Hashable, Sendable, CustomStringConvertible {
    /// Highest version, then latest `at`, then origin name: the default.
    case highestVersion
    /// Latest `at` wins, then highest version.
    case lastWriterWins
    /// The first origin in the list wins; origins not listed rank after all listed ones.
    case originPriority([String])

    public var description: String {
        switch self {
        case .highestVersion: return "highest-version"
        case .lastWriterWins: return "last-writer-wins"
        case .originPriority(let origins): return "origin-priority(\(origins.joined(separator: ", ")))"
        }
    }
}

/// An entity type and the service that owns (publishes) it.
public struct EntityType: Hashable, Sendable {
    public var name: String
    public var owner: String
    /// Event attributes that bindings may use (`attrs.category`).
    public var attributes: [String]
    public var policy: ConflictPolicy
    /// False when the policy is the default because the graph did not name one.
    public var policyDeclared: Bool
    public var location: SourceLocation
}

/// A cache family's identity: `service/family`.
public struct FamilyID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var service: String
    public var name: String

    public init(service: String, name: String) {
        self.service = service
        self.name = name
    }

    public var description: String { "\(service)/\(name)" }

    public static func < (lhs: FamilyID, rhs: FamilyID) -> Bool {
        (lhs.service, lhs.name) < (rhs.service, rhs.name)
    }
}

/// Where a bound template parameter takes its value from.
public enum BindingSource: Hashable, Sendable, CustomStringConvertible {
    /// The changed entity's id.
    case id
    /// An attribute carried by the event (`attrs.category`).
    case attribute(String)
    /// A parameter of the dependency family's key template.
    case parameter(String)

    public var description: String {
        switch self {
        case .id: return "id"
        case .attribute(let name): return "attrs.\(name)"
        case .parameter(let name): return name
        }
    }
}

/// What a dependency points at.
public enum DependencyTarget: Hashable, Sendable, CustomStringConvertible {
    case entity(String)
    case family(FamilyID)

    public var description: String {
        switch self {
        case .entity(let name): return name
        case .family(let id): return id.description
        }
    }
}

/// How a dependent key is found when the dependency changes.
public enum DependencyMode: Hashable, Sendable {
    /// Template parameter → source; the dependent key is computed from the change.
    case bind([String: BindingSource])
    /// Only instance registrations (`SET ... DEPS`) tell which keys depend on which instance.
    case tags
}

public struct FamilyDependency: Hashable, Sendable {
    public var target: DependencyTarget
    public var mode: DependencyMode
    public var location: SourceLocation
}

/// A cache key family: a template, a TTL and what its values are computed from.
public struct CacheFamily: Hashable, Sendable {
    public var id: FamilyID
    public var template: KeyTemplate
    public var ttlMillis: Int64?
    /// Set for `ttl: adaptive` (then `ttlMillis` is nil).
    public var adaptiveTTL: AdaptiveTTL? = nil
    /// The family's own `tier`, or its service's: a node evicts lower tiers first.
    public var tier: Tier = .standard
    public var dependencies: [FamilyDependency]
    public var location: SourceLocation
}

public struct Service: Hashable, Sendable {
    public var name: String
    public var tier: Tier
    public var owns: [String]
    /// Family names in file order.
    public var families: [String]
    public var file: String
    public var location: SourceLocation
}

/// The whole validated graph. Built only by `GraphLoader`, so every reference in it resolves.
public struct CacheGraph: Sendable {
    public let services: [String: Service]
    public let entities: [String: EntityType]
    public let families: [FamilyID: CacheFamily]

    init(services: [String: Service], entities: [String: EntityType], families: [FamilyID: CacheFamily]) {
        self.services = services
        self.entities = entities
        self.families = families
    }

    public var serviceNames: [String] { services.keys.sorted() }
    public var entityNames: [String] { entities.keys.sorted() }
    public var familyIDs: [FamilyID] { families.keys.sorted() }

    /// Finds a family by `service/family`, or by a bare family name that only one service uses.
    public func family(named text: String) -> FamilyLookup {
        if let slash = text.firstIndex(of: "/") {
            let id = FamilyID(service: String(text[..<slash]), name: String(text[text.index(after: slash)...]))
            return families[id] != nil ? .found(id) : .notFound
        }
        let matches = familyIDs.filter { $0.name == text }
        switch matches.count {
        case 0: return .notFound
        case 1: return .found(matches[0])
        default: return .ambiguous(matches)
        }
    }

    /// The family of a concrete key of `service`. When several templates fit (`product:{id}`
    /// also fits `product:7:page`), the one with the most literal text wins, then file order.
    public func family(ofKey key: Substring, service: String) -> (FamilyID, [String: String])? {
        guard let owner = services[service] else { return nil }
        var best: (id: FamilyID, values: [String: String], literal: Int)?
        for name in owner.families {
            let id = FamilyID(service: service, name: name)
            guard let family = families[id], let values = family.template.match(key) else { continue }
            let literal = family.template.literalLength
            if best == nil || literal > (best?.literal ?? 0) { best = (id, values, literal) }
        }
        return best.map { ($0.id, $0.values) }
    }
}

public enum FamilyLookup: Hashable, Sendable {
    case found(FamilyID)
    case notFound
    case ambiguous([FamilyID])
}
