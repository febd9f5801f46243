import ArgumentParser
import CascadeGraph
import CascadeWire
import Foundation

/// One row of a reachability answer, for tables and JSON alike.
struct GraphReachRow: Codable {
    var node: String
    var service: String
    var key: String
    var depth: Int
    var kind: String
    var how: String
    var path: [String]

    init(_ reached: ReachedNode, graph: CacheGraph) {
        node = reached.node.description
        switch reached.node {
        case .family(let id):
            service = id.service
            key = graph.families[id]?.template.text ?? ""
        case .entity(let name):
            service = graph.entities[name]?.owner ?? ""
            key = "\(name)#{id}"
        }
        depth = reached.depth
        kind = reached.kind.rawValue
        how = reached.bound ? "bind" : "tags"
        path = reached.path
    }

    static func print(_ rows: [GraphReachRow], json: Bool, empty: String) {
        if json {
            Swift.print(GraphExport.encode(rows))
        } else if rows.isEmpty {
            Swift.print(empty)
        } else {
            let table = [["DEPTH", "NODE", "KEY", "KIND", "HOW", "PATH"]]
                + rows.map { ["\($0.depth)", $0.node, $0.key, $0.kind, $0.how, $0.path.joined(separator: " -> ")] }
            Swift.print(GraphOutput.table(table))
        }
    }
}

struct GraphDepsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deps", abstract: "What a cache family is computed from, transitively.")

    @OptionGroup var options: GraphOptions

    @Argument(help: "A cache family: service/family, or family when only one service has it.")
    var family: String

    func run() async throws {
        let (graph, _) = try options.load()
        let id = try options.family(family, in: graph)
        let rows = GraphAnalysis(graph).dependencies(of: id).map { GraphReachRow($0, graph: graph) }
        GraphReachRow.print(rows, json: options.json, empty: "\(id) depends on nothing")
    }
}

struct GraphDependentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dependents", abstract: "The cache families a change to a family or entity type invalidates, transitively.")

    @OptionGroup var options: GraphOptions

    @Argument(help: "An entity type (Product) or a cache family (service/family).")
    var name: String

    func run() async throws {
        let (graph, _) = try options.load()
        let start: DependencyTarget = graph.entities[name] != nil ? .entity(name) : .family(try options.family(name, in: graph))
        let rows = GraphAnalysis(graph).impact(of: start).map { GraphReachRow($0, graph: graph) }
        GraphReachRow.print(rows, json: options.json, empty: "nothing depends on \(start)")
    }
}

struct GraphImpactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "impact",
        abstract: "What a change invalidates: families per service for Entity, concrete keys for Entity#id.",
        discussion: """
            Offline, Entity#id gives the keys the graph's bind rules compute; keys found only \
            through registrations (via: tags) need a running bus: --live http://host:port.
            """)

    @OptionGroup var options: GraphOptions

    @Argument(help: "An entity type (Product) or an instance (Product#p-17).")
    var target: String

    @Option(name: .customLong("attr"), help: ArgumentHelp("An event attribute for attrs.* bindings.", valueName: "key=value"))
    var attrs: [String] = []

    @Option(help: ArgumentHelp("Ask the bus at this URL for instance-level answers.", valueName: "url"))
    var live: String?

    @Option(help: "Bearer token of the bus's admin API (its --admin-token), with --live.")
    var adminToken: String?

    func run() async throws {
        if let live {
            try await GraphLiveClient.printImpact(base: live, ref: target, json: options.json, token: adminToken)
            return
        }
        let (graph, _) = try options.load()
        if let ref = EntityRef(parsing: target) {
            try instanceImpact(ref, graph: graph)
            return
        }
        guard graph.entities[target] != nil else {
            GraphOutput.fail("there is no entity type '\(target)' in \(options.directory); known: \(graph.entityNames.joined(separator: ", ")).")
            throw ExitCode(2)
        }
        let rows = GraphAnalysis(graph).impact(of: .entity(target)).map { GraphReachRow($0, graph: graph) }
        if options.json {
            GraphReachRow.print(rows, json: true, empty: "")
            return
        }
        for service in graph.serviceNames {
            let mine = rows.filter { $0.service == service }
            guard !mine.isEmpty else { continue }
            print("\(service) (\(graph.services[service]?.tier.rawValue ?? "")):")
            print(GraphOutput.table([["DEPTH", "FAMILY", "KEY", "KIND", "HOW", "PATH"]]
                + mine.map { ["\($0.depth)", $0.node, $0.key, $0.kind, $0.how, $0.path.joined(separator: " -> ")] })
                .split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        }
        if rows.isEmpty { print("nothing depends on \(target)") }
    }

    struct InstanceReport: Codable {
        var root: String
        var keys: [Key]
        var unresolved: [String]
        /// Families that may hold more keys, known only through registrations.
        var viaRegistrations: [String]

        struct Key: Codable {
            var service: String
            var key: String
            var depth: Int
            var path: [String]
        }
    }

    private func instanceImpact(_ ref: EntityRef, graph: CacheGraph) throws {
        guard graph.entities[ref.entity] != nil else {
            GraphOutput.fail("there is no entity type '\(ref.entity)' in \(options.directory).")
            throw ExitCode(2)
        }
        var attributes: [String: String] = [:]
        for pair in attrs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                GraphOutput.fail("--attr '\(pair)' is not key=value.")
                throw ExitCode(2)
            }
            attributes[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        let closure = InstanceIndex(graph: graph).closure(of: ref, attrs: attributes)
        let tagged = GraphAnalysis(graph).impact(of: .entity(ref.entity)).filter { !$0.bound }.map(\.node.description)
        let report = InstanceReport(
            root: closure.root,
            keys: closure.entries.indices.map { index in
                let entry = closure.entries[index]
                return .init(service: String(entry.service), key: String(entry.key), depth: entry.depth, path: closure.path(to: index))
            },
            unresolved: closure.unresolved, viaRegistrations: tagged)
        if options.json {
            print(GraphExport.encode(report))
            return
        }
        print(GraphOutput.table([["DEPTH", "SERVICE", "KEY", "PATH"]]
            + report.keys.map { ["\($0.depth)", $0.service, $0.key, $0.path.joined(separator: " -> ")] }))
        for line in report.unresolved { print("not computed: \(line)") }
        if !tagged.isEmpty {
            print("also, through registrations only (ask a running bus with --live): \(tagged.joined(separator: ", "))")
        }
    }
}
