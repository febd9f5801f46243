import ArgumentParser
import CascadeGraph
import CascadeGraphInspect
import CascadeWire

struct GraphDepsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deps", abstract: "What a cache family is computed from, transitively.")

    @OptionGroup var options: GraphOptions

    @Argument(help: "A cache family: service/family, or family when only one service has it.")
    var family: String

    func run() async throws {
        let (graph, _) = try options.load()
        let id = try options.family(family, in: graph)
        print(GraphReachRow.render(GraphReachRow.dependencies(of: id, in: graph), json: options.json, empty: "\(id) depends on nothing"))
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
        print(GraphReachRow.render(GraphReachRow.impact(of: start, in: graph), json: options.json, empty: "nothing depends on \(start)"))
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
        try await options.answer {
            if let live {
                print(try await liveImpact(base: live, ref: target, json: options.json, token: adminToken))
                return
            }
            let (graph, _) = try options.load()
            if let ref = EntityRef(parsing: target) {
                print(try InstanceImpact(ref, attrs: attrs, graph: graph, directory: options.directory).render(json: options.json))
                return
            }
            guard graph.entities[target] != nil else {
                throw GraphQueryError("there is no entity type '\(target)' in \(options.directory); known: \(graph.entityNames.joined(separator: ", ")).")
            }
            let text = GraphReachRow.renderImpact(of: target, in: graph, json: options.json)
            if !text.isEmpty { print(text) }
        }
    }
}
