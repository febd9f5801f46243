import CascadeGraph
import Foundation

/// One row of a reachability answer (`deps`, `dependents`, `impact Entity`), for tables and
/// JSON alike.
public struct GraphReachRow: Codable {
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

    /// What a family is computed from, transitively.
    public static func dependencies(of id: FamilyID, in graph: CacheGraph) -> [GraphReachRow] {
        GraphAnalysis(graph).dependencies(of: id).map { GraphReachRow($0, graph: graph) }
    }

    /// What a change to a family or entity type invalidates, transitively.
    public static func impact(of start: DependencyTarget, in graph: CacheGraph) -> [GraphReachRow] {
        GraphAnalysis(graph).impact(of: start).map { GraphReachRow($0, graph: graph) }
    }

    /// JSON, one table, or `empty` when there are no rows.
    public static func render(_ rows: [GraphReachRow], json: Bool, empty: String) -> String {
        if json { return GraphExport.encode(rows) }
        if rows.isEmpty { return empty }
        return graphTable([["DEPTH", "NODE", "KEY", "KIND", "HOW", "PATH"]] + rows.map(\.cells))
    }

    /// `impact Entity`: the families a change to `entity` invalidates, one table per service.
    public static func renderImpact(of entity: String, in graph: CacheGraph, json: Bool) -> String {
        let rows = impact(of: .entity(entity), in: graph)
        if json { return render(rows, json: true, empty: "") }
        var blocks: [String] = []
        for service in graph.serviceNames {
            let mine = rows.filter { $0.service == service }
            guard !mine.isEmpty else { continue }
            blocks.append("\(service) (\(graph.services[service]?.tier.rawValue ?? "")):")
            blocks.append(graphTable([["DEPTH", "FAMILY", "KEY", "KIND", "HOW", "PATH"]] + mine.map(\.cells))
                .split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        }
        if rows.isEmpty { blocks.append("nothing depends on \(entity)") }
        return blocks.joined(separator: "\n")
    }

    private var cells: [String] {
        ["\(depth)", node, key, kind, how, path.joined(separator: " -> ")]
    }
}
