import CascadeGraph
import CascadeWire
import Foundation

/// `graph validate`: what loading found, counted.
public struct GraphValidationReport: Codable {
    public var valid: Bool
    public var errors: [String]
    public var warnings: [String]
    public var services: Int
    public var entities: Int
    public var families: Int
    public var edges: [String: Int]
    public var cycles: Int

    public init(_ result: GraphLoadResult) {
        let analysis = result.graph.map(GraphAnalysis.init)
        var counts: [String: Int] = [:]
        for edge in analysis?.edges ?? [] { counts[edge.kind.rawValue, default: 0] += 1 }
        valid = result.graph != nil
        errors = result.errors.map(\.description)
        warnings = result.warnings.map(\.description)
        services = result.graph?.services.count ?? 0
        entities = result.graph?.entities.count ?? 0
        families = result.graph?.families.count ?? 0
        edges = counts
        cycles = analysis?.cycles.count ?? 0
    }

    /// The closing sentence for people: on standard output when valid, standard error when not.
    public func summary(directory: String) -> String {
        guard valid else { return "\(directory) has \(errors.count) error(s) and \(warnings.count) warning(s)." }
        let counted = ["primary", "secondary", "circular"].map { "\(edges[$0] ?? 0) \($0)" }.joined(separator: ", ")
        return "\(directory) is valid: \(services) services, \(entities) entities, \(families) cache families, \(counted) dependencies, \(cycles) cycle(s), \(warnings.count) warning(s)."
    }
}

/// `graph show`: services, entities and families, as three tables.
public func graphShowText(_ analysis: GraphAnalysis) -> String {
    let graph = analysis.graph
    var services = [["SERVICE", "TIER", "OWNS", "FILE"]]
    for name in graph.serviceNames {
        guard let service = graph.services[name] else { continue }
        services.append([name, service.tier.rawValue, service.owns.joined(separator: ", "), service.file])
    }
    var entities = [["ENTITY", "OWNER", "ATTRS", "CONFLICT POLICY"]]
    for name in graph.entityNames {
        guard let entity = graph.entities[name] else { continue }
        entities.append([name, entity.owner, entity.attributes.joined(separator: ", "), entity.policy.description])
    }
    var families = [["FAMILY", "KEY", "TTL", "DEPENDS ON"]]
    for id in graph.familyIDs {
        guard let family = graph.families[id] else { continue }
        let dependencies = analysis.directDependencies(of: id).map { "\($0.target) [\($0.kind.rawValue), \(GraphExport.modeText($0.mode))]" }
        families.append([
            id.description, family.template.text, family.ttlMillis.map { TTLDuration.format(milliseconds: $0) } ?? "-",
            dependencies.isEmpty ? "-" : dependencies.joined(separator: "; "),
        ])
    }
    return [graphTable(services), graphTable(entities), graphTable(families)].joined(separator: "\n\n")
}

/// `graph cycles`: each circular component (strongly connected) with its circular edges.
public struct GraphCycle: Codable {
    var families: [String]
    var edges: [String]

    public static func all(_ analysis: GraphAnalysis) -> [GraphCycle] {
        analysis.cycles.map { component in
            GraphCycle(
                families: component.map(\.description),
                edges: analysis.edges.filter { $0.kind == .circular && component.contains($0.dependent) }
                    .map { "\($0.target) -> \($0.dependent) (\(GraphExport.modeText($0.mode)))" })
        }
    }

    public static func render(_ cycles: [GraphCycle], json: Bool) -> String {
        if json { return GraphExport.encode(cycles) }
        if cycles.isEmpty { return "no cycles" }
        var lines: [String] = []
        for (number, cycle) in cycles.enumerated() {
            lines.append("cycle \(number + 1): \(cycle.families.joined(separator: ", "))")
            lines += cycle.edges.map { "  \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}
