import CascadeGraph
import CascadeTestSupport
import Foundation
import Testing

/// The exported DOT through Graphviz, and the real `cascade graph` binary end to end.
@Suite struct ExportAndCLITests {
    static var graphDirectory: String { CascadeBinary.packageRoot.appendingPathComponent("graph").path }

    func cascade(_ arguments: [String]) async throws -> CommandResult {
        try await runCommand(CascadeBinary.url.path, arguments)
    }

    @Test func dotIsAcceptedByGraphviz() async throws {
        let graph = try #require(try GraphLoader.load(directory: Self.graphDirectory).graph)
        let dot = GraphExport.dot(GraphAnalysis(graph))
        let result = try await runCommand("dot", ["-Tsvg"], stdin: dot)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("<svg"))
        #expect(result.stdout.contains("user&#45;profile") || result.stdout.contains("user-profile"))
    }

    @Test func validateTheExampleGraph() async throws {
        let result = try await cascade(["graph", "validate", "--graph", Self.graphDirectory])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("is valid: 4 services, 4 entities, 12 cache families"))
        #expect(result.stderr.isEmpty)
    }

    @Test func validateABrokenGraphExitsOneWithPositions() async throws {
        let broken = try TempGraph([
            "owner.yaml": ownerOfA,
            "s.yaml": "service: s\ntier: gold\ncaches:\n  fam:\n    key: \"s:{x}\"\n    depends_on:\n      - entity: Zed\n        bind: {x: id}\n",
        ])
        defer { broken.remove() }
        let result = try await cascade(["graph", "validate", "--graph", broken.directory])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(broken.path("s.yaml")):2:7: error: tier 'gold' is not one of"))
        #expect(result.stderr.contains("\(broken.path("s.yaml")):7:9: error: unknown entity 'Zed'"))
        #expect(!result.stderr.contains("Fatal error"))

        let json = try await cascade(["graph", "validate", "--json", "--graph", broken.directory])
        #expect(json.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((report?["errors"] as? [String])?.count == 2)
    }

    @Test func missingDirectoryExitsTwo() async throws {
        let result = try await cascade(["graph", "show", "--graph", "/nonexistent/graph"])
        #expect(result.status == 2)
        #expect(result.stderr == "cascade graph: cannot read graph directory /nonexistent/graph: it does not exist.\n")
    }

    @Test func impactOfAnInstance() async throws {
        let result = try await cascade(["graph", "impact", "Product#p-17", "--attr", "category=shoes", "--json", "--graph", Self.graphDirectory])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let keys = (report["keys"] as? [[String: Any]] ?? []).compactMap { key -> String? in
            guard let service = key["service"] as? String, let name = key["key"] as? String else { return nil }
            return "\(service)/\(name)"
        }
        #expect(Set(keys) == [
            "product-service/product:p-17", "product-service/category:shoes:listing", "product-service/product:p-17:page",
            "analytics-service/report:category:shoes", "analytics-service/stats:product:p-17",
        ])
        #expect(report["viaRegistrations"] as? [String] == ["order-service/order-summary", "order-service/user-orders", "analytics-service/top-products"])
    }

    @Test func impactOfATypeAndUnknownNames() async throws {
        let table = try await cascade(["graph", "impact", "User", "--graph", Self.graphDirectory])
        #expect(table.status == 0)
        #expect(table.stdout.contains("user-service (critical):"))
        #expect(table.stdout.contains("order-service/order-summary"))
        let unknown = try await cascade(["graph", "deps", "nope", "--graph", Self.graphDirectory])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("there is no cache family 'nope'"))
    }

    @Test func exportFormats() async throws {
        let dot = try await cascade(["graph", "export", "--format", "dot", "--graph", Self.graphDirectory])
        #expect(dot.status == 0)
        #expect(dot.stdout.hasPrefix("digraph cascade {"))
        let svg = try await cascade(["graph", "export", "--format", "svg", "--graph", Self.graphDirectory])
        #expect(svg.status == 0, "\(svg.stderr)")
        #expect(svg.stdout.contains("<svg"))
        let json = try await cascade(["graph", "export", "--format", "json", "--graph", Self.graphDirectory])
        let document = try JSONDecoder().decode(GraphDocument.self, from: Data(json.stdout.utf8))
        #expect(document.cycles.count == 1)
        #expect(document.families.count == 12)
    }

    @Test func liveWithoutABusExitsTwo() async throws {
        let result = try await cascade(["graph", "impact", "User#u-3", "--live", "http://127.0.0.1:9"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("cascade graph: bus at http://127.0.0.1:9 is not reachable"))
    }
}
