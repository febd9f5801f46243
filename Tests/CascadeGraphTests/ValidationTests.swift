import CascadeGraph
import Testing

/// Each mistake, in a real file, is reported at its file:line with a plain sentence.
@Suite struct ValidationTests {
    /// A one-family service file `s.yaml` whose family's body is `body` (lines from 7 on).
    static func service(_ body: String, tier: String = "standard") -> String {
        """
        service: s
        tier: \(tier)
        caches:
          fam:
            key: "s:{aId}"
            ttl: 10m
        \(body)
        """
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var files: [String: String]
        var file: String
        var line: Int
        var fragment: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "unknown entity", files: ["s.yaml": service("    depends_on:\n      - entity: Aa\n        bind: {aId: id}")],
             file: "s.yaml", line: 8, fragment: "unknown entity 'Aa'; did you mean 'A'?"),
        Case(name: "unknown family", files: ["s.yaml": service("    depends_on:\n      - cache: owner/a-crad\n        via: tags")],
             file: "s.yaml", line: 8, fragment: "unknown cache family 'a-crad' in service owner; did you mean 'a-card'?"),
        Case(name: "unknown service", files: ["s.yaml": service("    depends_on:\n      - cache: nobody/a-card\n        via: tags")],
             file: "s.yaml", line: 8, fragment: "unknown service 'nobody'"),
        Case(name: "unbound parameter", files: ["s.yaml": service("    depends_on:\n      - entity: A\n        bind: {}")],
             file: "s.yaml", line: 8, fragment: "template parameter 'aId' of fam ('s:{aId}') is not bound by this dependency on A"),
        Case(name: "binding to a missing parameter", files: ["s.yaml": service("    depends_on:\n      - entity: A\n        bind: {aId: id, other: id}")],
             file: "s.yaml", line: 9, fragment: "binds 'other', which is not a parameter of key template 's:{aId}'"),
        Case(name: "binding to a missing attribute", files: ["s.yaml": service("    depends_on:\n      - entity: A\n        bind: {aId: attrs.size}")],
             file: "s.yaml", line: 9, fragment: "attribute 'size', which entity A does not declare"),
        Case(name: "binding to a missing parameter of a cache", files: ["s.yaml": service("    depends_on:\n      - cache: owner/a-card\n        bind: {aId: id}")],
             file: "s.yaml", line: 9, fragment: "binds 'aId' to 'id', which is not a parameter of owner/a-card's key (its parameters: aId)"),
        Case(name: "bad duration", files: ["s.yaml": service("    depends_on:\n      - entity: A\n        bind: {aId: id}").replacingOccurrences(of: "ttl: 10m", with: "ttl: 10x")],
             file: "s.yaml", line: 6, fragment: "ttl '10x' of fam is not a duration"),
        Case(name: "bad tier", files: ["s.yaml": service("    depends_on:\n      - entity: A\n        via: tags", tier: "gold")],
             file: "s.yaml", line: 2, fragment: "tier 'gold' is not one of critical, standard, background, archive"),
        Case(name: "unknown field", files: ["s.yaml": service("    tll: 5m\n    depends_on:\n      - entity: A\n        via: tags")],
             file: "s.yaml", line: 7, fragment: "unknown field 'tll' in cache family fam; did you mean 'ttl'?"),
        Case(name: "neither bind nor via", files: ["s.yaml": service("    depends_on:\n      - entity: A")],
             file: "s.yaml", line: 8, fragment: "says neither how to find the dependent keys"),
        Case(name: "bad key template", files: ["s.yaml": service("    depends_on:\n      - entity: A\n        via: tags").replacingOccurrences(of: "\"s:{aId}\"", with: "\"s:{aId\"")],
             file: "s.yaml", line: 5, fragment: "key template 's:{aId' of fam has a '{' that is never closed"),
        Case(name: "duplicate family", files: ["s.yaml": service("    depends_on:\n      - entity: A\n        via: tags\n  fam:\n    key: \"x\"")],
             file: "s.yaml", line: 4, fragment: "duplicate key 'fam'"),
        Case(name: "malformed YAML", files: ["s.yaml": "service: s\ntier: standard\ncaches:\n  fam:\n    key: \"open\n  other: [\n"],
             file: "s.yaml", line: 7, fragment: "malformed YAML"),
        Case(name: "empty file", files: ["s.yaml": ""], file: "s.yaml", line: 0, fragment: "the file is empty"),
        Case(name: "entity owned twice", files: ["s.yaml": "service: s\ntier: standard\nowns: [B, A]\ncaches:\n  fam:\n    key: k\n    depends_on:\n      - entity: B\n        bind: {}\n"],
             file: "s.yaml", line: 3, fragment: "entity A is owned by both owner"),
        Case(name: "no service field", files: ["s.yaml": "tier: standard\ncaches: {}\n"], file: "s.yaml", line: 1, fragment: "no 'service' field"),
        // Yams compares complex keys structurally when it checks for duplicates: nested ones
        // made a fuzzed 2.5 KB file take 10 s. They are refused before Yams sees them.
        Case(name: "explicit key", files: ["s.yaml": "service: s\ntier: standard\ncaches:\n  ? fam\n  : {key: k}\n"],
             file: "s.yaml", line: 4, fragment: "'?' mapping key"),
        Case(name: "explicit key in a sequence", files: ["s.yaml": "service: s\ntier: standard\nowns:\n  -   ? [A]\n"],
             file: "s.yaml", line: 4, fragment: "'?' mapping key"),
    ]

    @Test(arguments: cases)
    func reportsMistake(_ example: Case) throws {
        var files = example.files
        files["owner.yaml"] = ownerOfA
        let graph = try TempGraph(files)
        defer { graph.remove() }
        let result = try graph.load()
        #expect(result.graph == nil)
        let location = example.line > 0 ? "\(graph.path(example.file)):\(example.line):" : "\(graph.path(example.file)):"
        let matching = result.errors.filter { $0.description.hasPrefix(location) && $0.message.contains(example.fragment) }
        #expect(matching.count == 1, "expected '\(example.fragment)' at \(location) in:\n\(result.diagnostics.map(\.description).joined(separator: "\n"))")
    }

    @Test func reportsEveryMistakeAtOnce() throws {
        let text = """
            service: s
            tier: gold
            caches:
              fam:
                key: "s:{aId}"
                ttl: forever
                depends_on:
                  - entity: Nope
                    bind: {aId: id}
                  - cache: owner/missing
                    via: tags
            """
        let graph = try TempGraph(["s.yaml": text, "owner.yaml": ownerOfA])
        defer { graph.remove() }
        let lines = try graph.load().errors.map(\.location.line)
        #expect(lines == [2, 6, 8, 10])
    }

    @Test func emptyDirectoryIsAnEmptyGraph() throws {
        let graph = try TempGraph([:])
        defer { graph.remove() }
        let result = try graph.load()
        #expect(result.errors.map(\.message) == ["the graph is empty: no .yaml files, one per service, were found."])
    }

    @Test func missingDirectoryIsAnIOError() {
        #expect(throws: GraphDirectoryError.self) { try GraphLoader.load(directory: "/nonexistent/graph") }
    }

    @Test func warningsAreSeparateFromErrors() throws {
        let cyclic = """
            service: s
            tier: standard
            owns: [Lonely]
            caches:
              left:
                key: "l:{aId}"
                depends_on:
                  - entity: A
                    bind: {aId: id}
                  - cache: right
                    via: tags
              right:
                key: "r:{aId}"
                depends_on:
                  - cache: left
                    bind: {aId: aId}
              idle:
                key: "idle"
                ttl: 1h
            """
        let owner = ownerOfA.replacingOccurrences(of: "    conflict: highest-version\n", with: "")
        let graph = try TempGraph(["s.yaml": cyclic, "owner.yaml": owner])
        defer { graph.remove() }
        let result = try graph.load()
        #expect(result.errors.isEmpty)
        #expect(result.graph != nil)
        let warnings = result.warnings.map(\.message)
        #expect(warnings.contains { $0.contains("form a cycle") && $0.contains("A") && $0.contains("no 'conflict' policy") })
        #expect(warnings.contains { $0.contains("cache family idle depends on nothing, so only its ttl of 1h") })
        #expect(warnings.contains { $0.contains("nothing depends on entity Lonely") })
    }
}
