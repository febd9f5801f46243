import CascadeGraph
import CascadeStore

/// The families of the node's service (`cascade node --graph`), numbered from 1 in file order
/// (0: a key no template fits), with a byte-level template matcher: the store calls `number`
/// once per new key, under a shard lock, so it allocates nothing.
public final class FamilyDirectory: Sendable {
    public struct Family: Sendable {
        public let number: UInt16
        public let name: String
        public let template: String
        public let tier: Tier
        public let ttlMillis: Int64?
        /// Bounds of `ttl: adaptive` (the tier's where the graph gives none); nil: fixed TTL.
        public let adaptive: (min: Int64, max: Int64)?
        /// False when the family depends on nothing: only its TTL removes its keys.
        public let invalidated: Bool
    }

    public let service: String
    public let serviceTier: Tier
    /// Index = number - 1.
    public let families: [Family]
    /// Tiers present on the node, evicted-first first: eviction class = index.
    public let tiers: [Tier]
    /// Templates to try, most literal text first, then file order (as `CacheGraph.family(ofKey:)`).
    private let matchers: [(number: UInt16, template: TemplateBytes)]

    public init?(graph: CacheGraph, service: String) {
        guard let owner = graph.services[service] else { return nil }
        self.service = service
        serviceTier = owner.tier
        var families: [Family] = []
        var matchers: [(number: UInt16, template: TemplateBytes, literal: Int)] = []
        for name in owner.families {
            guard let family = graph.families[FamilyID(service: service, name: name)] else { continue }
            let number = UInt16(families.count + 1)
            let tierPolicy = TierPolicy.of(family.tier)
            let adaptive = family.adaptiveTTL.map { bounds in
                (min: bounds.minMillis ?? min(tierPolicy.minTTLMillis, bounds.maxMillis ?? .max),
                 max: bounds.maxMillis ?? max(tierPolicy.maxTTLMillis, bounds.minMillis ?? 0))
            }
            families.append(Family(
                number: number, name: name, template: family.template.text, tier: family.tier,
                ttlMillis: family.ttlMillis, adaptive: adaptive, invalidated: !family.dependencies.isEmpty))
            matchers.append((number, TemplateBytes(family.template), family.template.literalLength))
        }
        matchers.sort { $0.literal != $1.literal ? $0.literal > $1.literal : $0.number < $1.number }
        self.matchers = matchers.map { ($0.number, $0.template) }
        self.families = families
        tiers = Set(families.map(\.tier) + [owner.tier]).sorted { TierPolicy.of($0).evictionRank < TierPolicy.of($1).evictionRank }
    }

    public func family(_ number: UInt16) -> Family? {
        number >= 1 && Int(number) <= families.count ? families[Int(number) - 1] : nil
    }

    public func family(named name: String) -> Family? {
        families.first { $0.name == name }
    }

    /// The eviction class of a tier on this node.
    public func evictionClass(of tier: Tier) -> Int {
        tiers.firstIndex(of: tier) ?? 0
    }

    /// What the store needs: the classifier, each number's class, each class's share (the
    /// tiers' shares scaled so that the tiers present add up to the whole budget).
    public var policy: FamilyPolicy {
        let classes = [UInt8(evictionClass(of: serviceTier))] + families.map { UInt8(evictionClass(of: $0.tier)) }
        let total = tiers.reduce(0) { $0 + TierPolicy.of($1).memoryShare }
        let shares = tiers.map { TierPolicy.of($0).memoryShare / total }
        let observe = [false] + families.map { $0.adaptive != nil && !$0.invalidated }
        return FamilyPolicy(familyCount: families.count, evictionClass: classes, classShares: shares, observeChanges: observe) { [self] key in
            self.number(of: key)
        }
    }

    /// The family number of a key: the first template (most literal text first) that fits.
    public func number(of key: UnsafeRawBufferPointer) -> UInt16 {
        for matcher in matchers where matcher.template.matches(key) { return matcher.number }
        return 0
    }
}
