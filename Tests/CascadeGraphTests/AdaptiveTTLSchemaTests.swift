import CascadeGraph
import Testing

/// `ttl: adaptive`, its bounds, and a family's own `tier`.
@Suite struct AdaptiveTTLSchemaTests {
    static func service(_ caches: String) -> String {
        "service: s\ntier: standard\ncaches:\n" + caches
    }

    @Test func adaptiveTTLAndFamilyTierAreRead() throws {
        let text = Self.service("""
              plain:
                key: "p:{aId}"
                ttl: adaptive
              bounded:
                key: "b:{aId}"
                ttl: {adaptive: {min: 30s, max: 6h}}
                tier: critical
              fixed:
                key: "f:{aId}"
                ttl: 1m

            """)
        let graph = try TempGraph(["s.yaml": text])
        defer { graph.remove() }
        let result = try graph.load()
        let loaded = try #require(result.graph, "\(result.diagnostics.map(\.description))")
        let plain = try #require(loaded.families[FamilyID(service: "s", name: "plain")])
        let bounded = try #require(loaded.families[FamilyID(service: "s", name: "bounded")])
        let fixed = try #require(loaded.families[FamilyID(service: "s", name: "fixed")])
        #expect(plain.adaptiveTTL == AdaptiveTTL() && plain.ttlMillis == nil && plain.tier == .standard)
        #expect(bounded.adaptiveTTL == AdaptiveTTL(minMillis: 30_000, maxMillis: 21_600_000) && bounded.tier == .critical)
        #expect(fixed.adaptiveTTL == nil && fixed.ttlMillis == 60_000)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var caches: String
        var line: Int
        var fragment: String
        var testDescription: String { fragment }
    }

    static let cases: [Case] = [
        Case(caches: "  f:\n    key: \"f:{x}\"\n    ttl: {adaptive: {min: 1h, max: 1m}}\n", line: 6, fragment: "min 1h above max 1m"),
        Case(caches: "  f:\n    key: \"f:{x}\"\n    ttl: {adaptive: {min: soon}}\n", line: 6, fragment: "min 'soon' of the adaptive ttl"),
        Case(caches: "  f:\n    key: \"f:{x}\"\n    ttl: {adaptive: {mn: 1m}}\n", line: 6, fragment: "did you mean 'min'"),
        Case(caches: "  f:\n    key: \"f:{x}\"\n    ttl: {adaptve: {min: 1m}}\n", line: 6, fragment: "did you mean 'adaptive'"),
        Case(caches: "  f:\n    key: \"f:{x}\"\n    ttl: sometimes\n", line: 6, fragment: "nor 'adaptive'"),
        Case(caches: "  f:\n    key: \"f:{x}\"\n    tier: gold\n", line: 6, fragment: "tier 'gold' of f"),
    ]

    @Test(arguments: cases)
    func reportsMistakeWithItsLine(_ example: Case) throws {
        let graph = try TempGraph(["s.yaml": Self.service(example.caches)])
        defer { graph.remove() }
        let result = try graph.load()
        #expect(result.graph == nil)
        let matching = result.errors.filter {
            $0.description.hasPrefix("\(graph.path("s.yaml")):\(example.line):") && $0.message.contains(example.fragment)
        }
        #expect(matching.count == 1, "\(result.diagnostics.map(\.description).joined(separator: "\n"))")
    }
}
