@testable import CascadeGraph
import CascadeTestSupport
import CascadeWire
import Testing

/// The shop graph shipped in graph/: analysis and impact sets written out by hand.
@Suite struct ExampleGraphTests {
    static func load() throws -> CacheGraph {
        let result = try GraphLoader.load(directory: CascadeBinary.packageRoot.appendingPathComponent("graph").path)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        return try #require(result.graph)
    }

    @Test func analysisFindsTheCrossServiceCycle() throws {
        let analysis = GraphAnalysis(try Self.load())
        #expect(analysis.cycles.map { $0.map(\.description) } == [[
            "order-service/order-summary", "order-service/user-orders", "user-service/user-profile",
        ]])
        let kinds = Dictionary(grouping: analysis.edges, by: \.kind).mapValues(\.count)
        #expect(kinds == [.primary: 9, .secondary: 6, .circular: 3])
        // Dependencies come before dependents in the condensation order.
        let position = Dictionary(uniqueKeysWithValues: analysis.components.enumerated().flatMap { index, component in component.map { ($0, index) } })
        for edge in analysis.edges where edge.kind == .secondary {
            guard case .family(let target) = edge.target else { continue }
            #expect((position[target] ?? 0) < (position[edge.dependent] ?? 0))
        }
    }

    @Test func mostSpecificTemplateOwnsAKey() throws {
        let graph = try Self.load()
        // product:{productId} also fits this key; the page template is more specific.
        #expect(graph.family(ofKey: "product:p-7:page", service: "product-service")?.0.name == "product-page")
        #expect(graph.family(ofKey: "product:p-7", service: "product-service")?.0.name == "product-detail")
    }

    @Test func typeImpactOfProduct() throws {
        let impact = GraphAnalysis(try Self.load()).impact(of: .entity("Product"))
        let depths = Dictionary(uniqueKeysWithValues: impact.map { ($0.node.description, $0.depth) })
        #expect(depths == [
            "product-service/product-detail": 1, "product-service/category-listing": 1, "order-service/order-summary": 1,
            "product-service/product-page": 2, "analytics-service/category-report": 2, "order-service/user-orders": 2,
            "analytics-service/product-stats": 3, "user-service/user-profile": 3,
            "analytics-service/top-products": 4, "user-service/user-session": 4, "analytics-service/dashboard": 5,
        ])
    }

    @Test func productChangeWithRegistrations() throws {
        let index = InstanceIndex(graph: try Self.load())
        // What the nodes registered when they cached these values.
        index.register(CacheKeyRef(service: "order-service", key: "order:o-9:summary"), dependencies: [
            .entity(EntityRef(entity: "Order", id: "o-9"), version: 4),
            .entity(EntityRef(entity: "Product", id: "p-17"), version: 41),
            .key(CacheKeyRef(service: "user-service", key: "user:u-3:profile")),
        ])
        index.register(CacheKeyRef(service: "order-service", key: "user:u-3:orders"), dependencies: [
            .key(CacheKeyRef(service: "order-service", key: "order:o-9:summary")),
        ])
        index.register(CacheKeyRef(service: "analytics-service", key: "top-products"), dependencies: [
            .key(CacheKeyRef(service: "analytics-service", key: "stats:product:p-17")),
        ])
        let closure = index.closure(of: EntityRef(entity: "Product", id: "p-17"), attrs: ["category": "shoes"])
        let got = Dictionary(uniqueKeysWithValues: closure.entries.map { ($0.name, $0.depth) })
        #expect(got == [
            "product-service/product:p-17": 1,
            "product-service/category:shoes:listing": 1,
            "order-service/order:o-9:summary": 1,
            "product-service/product:p-17:page": 2,
            "analytics-service/report:category:shoes": 2,
            "order-service/user:u-3:orders": 2,
            "analytics-service/stats:product:p-17": 3,
            "user-service/user:u-3:profile": 3,
            "analytics-service/top-products": 4,
            "user-service/session:u-3": 4,
            "analytics-service/dashboard:daily": 5,
        ])
        #expect(closure.unresolved.isEmpty)
        #expect(closure.entries.allSatisfy { $0.reason != .undeclared })
        let profile = try #require(closure.entries.firstIndex { $0.name == "user-service/user:u-3:profile" })
        #expect(closure.path(to: profile) == [
            "Product#p-17", "order-service/order:o-9:summary", "order-service/user:u-3:orders", "user-service/user:u-3:profile",
        ])
    }

    @Test func userChangeGoesRoundTheCycleOnce() throws {
        let index = InstanceIndex(graph: try Self.load())
        index.register(CacheKeyRef(service: "order-service", key: "order:o-9:summary"), dependencies: [
            .key(CacheKeyRef(service: "user-service", key: "user:u-3:profile")),
        ])
        index.register(CacheKeyRef(service: "order-service", key: "user:u-3:orders"), dependencies: [
            .key(CacheKeyRef(service: "order-service", key: "order:o-9:summary")),
        ])
        // No country attribute: the users-by-country binding cannot be computed, and says so.
        let closure = index.closure(of: EntityRef(entity: "User", id: "u-3"))
        #expect(closure.entries.map(\.name).sorted() == [
            "order-service/order:o-9:summary", "order-service/user:u-3:orders",
            "user-service/session:u-3", "user-service/user:u-3:profile",
        ])
        #expect(closure.unresolved == ["user-service/users-by-country needs attrs.country, which the event for User#u-3 did not carry"])
    }

    @Test func entriesInTheCycleAreMarkedCircular() throws {
        let index = InstanceIndex(graph: try Self.load())
        index.register(CacheKeyRef(service: "order-service", key: "order:o-9:summary"), dependencies: [
            .key(CacheKeyRef(service: "user-service", key: "user:u-3:profile")),
        ])
        let closure = index.closure(of: EntityRef(entity: "User", id: "u-3"), attrs: ["country": "fr"])
        let circular = Dictionary(uniqueKeysWithValues: closure.entries.map { ($0.name, $0.circular) })
        // Registered and bound keys of the order-summary / user-orders / user-profile cycle are
        // marked; keys built on the cycle from outside it are not.
        #expect(circular == [
            "order-service/order:o-9:summary": true, "user-service/user:u-3:profile": true,
            "user-service/session:u-3": false, "user-service/users:country:fr": false,
        ])
    }

    @Test func aFamilyDependingOnItselfIsCircular() throws {
        let tree = try TempGraph(["owner.yaml": ownerOfA, "tree.yaml": """
            service: tree
            tier: standard
            caches:
              subtree:
                key: "subtree:{aId}"
                ttl: 1m
                depends_on:
                  - entity: A
                    bind: {aId: id}
                  - cache: subtree
                    via: tags

            """])
        defer { tree.remove() }
        let graph = try #require(try tree.load().graph)
        let index = InstanceIndex(graph: graph)
        index.register(CacheKeyRef(service: "tree", key: "subtree:root"), dependencies: [.key(CacheKeyRef(service: "tree", key: "subtree:a-1"))])
        let closure = index.closure(of: EntityRef(entity: "A", id: "a-1"))
        let circular = Dictionary(uniqueKeysWithValues: closure.entries.map { ($0.name, $0.circular) })
        #expect(circular == ["owner/a:a-1": false, "tree/subtree:a-1": true, "tree/subtree:root": true])
    }

    @Test func undeclaredRegistrationIsHonouredAndFlagged() throws {
        let index = InstanceIndex(graph: try Self.load())
        // product-detail declares no dependency on Order, yet a node registered one.
        let outcome = index.register(CacheKeyRef(service: "product-service", key: "product:p-1"), dependencies: [
            .entity(EntityRef(entity: "Order", id: "o-1"), version: 2),
            .entity(EntityRef(entity: "Product", id: "p-1"), version: 2),
        ])
        #expect(outcome.undeclared == [.entity(EntityRef(entity: "Order", id: "o-1"), version: 2)])
        #expect(index.statistics.undeclaredEdges == 1)
        let closure = index.closure(of: EntityRef(entity: "Order", id: "o-1"))
        let entry = try #require(closure.entries.first { $0.name == "product-service/product:p-1" })
        #expect(entry.reason == .undeclared)
        #expect(closure.entries.contains { $0.name == "product-service/product:p-1:page" })
    }

    /// Families are cached per interned id: after churn frees ids and other names reuse them,
    /// closures must equal those of an index that only ever saw the final registrations.
    @Test func cachedFamiliesFollowReusedIDs() throws {
        let graph = try Self.load()
        func key(_ service: String, _ key: String) -> CacheKeyRef { CacheKeyRef(service: service, key: key) }
        var before: [(key: CacheKeyRef, dependencies: [Dependency])] = []
        var after: [(key: CacheKeyRef, dependencies: [Dependency])] = []
        for n in 0..<20 {
            before.append((key("analytics-service", "stats:product:p-\(n)"), [
                .key(key("user-service", "user:x-\(n):profile")),
                .entity(EntityRef(entity: "Product", id: "q-\(n)"), version: 1),
            ]))
            after.append((key("order-service", "order:o-\(n):summary"), [
                .entity(EntityRef(entity: "Order", id: "o-\(n)"), version: 1),
                .entity(EntityRef(entity: "Product", id: "p-\(n % 3)"), version: 1),
                .key(key("user-service", "user:u-\(n):profile")),
            ]))
            after.append((key("order-service", "user:u-\(n):orders"), [
                .key(key("order-service", "order:o-\(n):summary")),
                .entity(EntityRef(entity: "Order", id: "o-\(n)"), version: 1),
            ]))
        }
        let churned = InstanceIndex(graph: graph)
        churned.register(contentsOf: before)
        for (registered, _) in before { churned.unregister(registered) }
        let fresh = InstanceIndex(graph: graph)
        #expect(churned.register(contentsOf: after) == fresh.register(contentsOf: after))
        func same(_ a: InstanceClosure, _ b: InstanceClosure) {
            #expect(a.root == b.root)
            #expect(a.entries == b.entries)
            #expect(a.unresolved == b.unresolved)
        }
        for n in 0..<3 {
            let ref = EntityRef(entity: "Product", id: "p-\(n)")
            same(churned.closure(of: ref, attrs: ["category": "c"]), fresh.closure(of: ref, attrs: ["category": "c"]))
        }
        for n in 0..<20 {
            same(churned.closure(of: EntityRef(entity: "User", id: "u-\(n)")), fresh.closure(of: EntityRef(entity: "User", id: "u-\(n)")))
            let summary = key("order-service", "order:o-\(n):summary")
            same(churned.closure(ofKey: summary), fresh.closure(ofKey: summary))
        }
        let closure = fresh.closure(of: EntityRef(entity: "User", id: "u-4"))
        #expect(closure.entries.contains { $0.name == "order-service/user:u-4:orders" && $0.reason == .registered })
        #expect(closure.entries.contains { $0.name == "user-service/session:u-4" && $0.reason == .bound })
    }

    /// `service` and `key` split at the first `/` Character, as before they were precomputed.
    @Test func entrySplitsAtTheFirstSlash() {
        for name in ["svc/a:b/c", "svc/", "/k", "nokey", "sv\u{0301}c/k/é", "s/\u{0338}x/y", "é/x"] {
            let entry = InstanceClosure.Entry(name: name, depth: 1, parent: -1, reason: .bound)
            let slash = name.firstIndex(of: "/")
            #expect(entry.service == name[..<(slash ?? name.startIndex)])
            #expect(entry.key == (slash.map { name[name.index(after: $0)...] } ?? name[...]))
        }
    }
}
