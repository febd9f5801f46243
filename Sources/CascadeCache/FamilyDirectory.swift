import CascadeGraph
import CascadeStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    enum Part: Sendable {
        case literal([UInt8])
        case parameter
    }

    public let service: String
    public let serviceTier: Tier
    /// Index = number - 1.
    public let families: [Family]
    /// Tiers present on the node, evicted-first first: eviction class = index.
    public let tiers: [Tier]
    /// Templates to try, most literal text first, then file order (as `CacheGraph.family(ofKey:)`).
    private let matchers: [(number: UInt16, parts: [Part])]

    public init?(graph: CacheGraph, service: String) {
        guard let owner = graph.services[service] else { return nil }
        self.service = service
        serviceTier = owner.tier
        var families: [Family] = []
        var matchers: [(number: UInt16, parts: [Part], literal: Int)] = []
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
            let parts: [Part] = family.template.segments.map { segment in
                switch segment {
                case .literal(let text): .literal(Array(text.utf8))
                case .parameter: .parameter
                }
            }
            matchers.append((number, parts, family.template.literalLength))
        }
        matchers.sort { $0.literal != $1.literal ? $0.literal > $1.literal : $0.number < $1.number }
        self.matchers = matchers.map { ($0.number, $0.parts) }
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
        for matcher in matchers where FamilyDirectory.matches(matcher.parts, key) { return matcher.number }
        return 0
    }

    /// `KeyTemplate.match` over bytes: a parameter takes the text up to the first occurrence of
    /// the literal after it (at least one byte); the last one takes the rest.
    static func matches(_ parts: [Part], _ key: UnsafeRawBufferPointer) -> Bool {
        guard let base = key.baseAddress else { return parts.isEmpty }
        var position = 0
        let count = key.count
        var index = 0
        while index < parts.count {
            switch parts[index] {
            case .literal(let bytes):
                guard count - position >= bytes.count,
                      bytes.withUnsafeBytes({ memcmp(base + position, $0.baseAddress!, bytes.count) == 0 })
                else { return false }
                position += bytes.count
            case .parameter:
                if index + 1 < parts.count, case .literal(let next) = parts[index + 1] {
                    guard let found = find(next, in: base, from: position + 1, count: count) else { return false }
                    position = found
                } else {
                    return position < count
                }
            }
            index += 1
        }
        return position == count
    }

    private static func find(_ needle: [UInt8], in base: UnsafeRawPointer, from start: Int, count: Int) -> Int? {
        guard !needle.isEmpty, start + needle.count <= count else { return nil }
        let first = needle[0]
        return needle.withUnsafeBytes { needleBytes in
            var position = start
            while position + needle.count <= count {
                if base.load(fromByteOffset: position, as: UInt8.self) == first,
                   memcmp(base + position, needleBytes.baseAddress!, needle.count) == 0 {
                    return position
                }
                position += 1
            }
            return nil
        }
    }
}
