import Foundation

/// The graph as Graphviz DOT or JSON, for `cascade graph export` and the bus's `/graph`.
public enum GraphExport {
    /// Edges point the way changes flow: from what changed to what it invalidates.
    public static func dot(_ analysis: GraphAnalysis) -> String {
        let graph = analysis.graph
        var lines = [
            "digraph cascade {",
            "  rankdir=LR;",
            "  node [fontname=\"Helvetica\", fontsize=10];",
            "  edge [fontname=\"Helvetica\", fontsize=9];",
        ]
        for name in graph.serviceNames {
            guard let service = graph.services[name] else { continue }
            lines.append("  subgraph \(quote("cluster_" + name)) {")
            lines.append("    label=\(quote("\(name) (\(service.tier.rawValue))"));")
            for entity in service.owns {
                lines.append("    \(quote(entityNode(entity))) [label=\(quote(entity)), shape=ellipse, style=filled, fillcolor=\"#e8f0fe\"];")
            }
            for family in service.families {
                let id = FamilyID(service: name, name: family)
                let key = graph.families[id]?.template.text ?? ""
                lines.append("    \(quote(id.description)) [label=\(quote("\(family)\n\(key)")), shape=box];")
            }
            lines.append("  }")
        }
        for edge in analysis.edges {
            let from: String
            switch edge.target {
            case .entity(let name): from = entityNode(name)
            case .family(let id): from = id.description
            }
            var attributes = ["label=\(quote(modeText(edge.mode)))"]
            switch edge.kind {
            case .primary: break
            case .secondary: attributes.append("style=dashed")
            case .circular: attributes.append("color=red, fontcolor=red")
            }
            lines.append("  \(quote(from)) -> \(quote(edge.dependent.description)) [\(attributes.joined(separator: ", "))];")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A stable JSON document: services, entities, families and classified edges.
    public static func document(_ analysis: GraphAnalysis) -> GraphDocument {
        let graph = analysis.graph
        return GraphDocument(
            services: graph.serviceNames.compactMap { graph.services[$0] }.map {
                .init(name: $0.name, tier: $0.tier.rawValue, owns: $0.owns, families: $0.families, file: $0.file)
            },
            entities: graph.entityNames.compactMap { graph.entities[$0] }.map {
                .init(name: $0.name, owner: $0.owner, attrs: $0.attributes, conflict: $0.policy.description)
            },
            families: graph.familyIDs.compactMap { graph.families[$0] }.map {
                .init(id: $0.id.description, service: $0.id.service, name: $0.id.name, key: $0.template.text,
                      parameters: $0.template.parameters, ttlSeconds: $0.ttlMillis.map { Double($0) / 1000 })
            },
            edges: analysis.edges.map {
                .init(from: $0.target.description, to: $0.dependent.description, kind: $0.kind.rawValue,
                      mode: modeText($0.mode), location: $0.location.description)
            },
            cycles: analysis.cycles.map { $0.map(\.description) })
    }

    public static func json(_ analysis: GraphAnalysis) -> String {
        encode(document(analysis))
    }

    public static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// `bind userId=id` or `tags`.
    public static func modeText(_ mode: DependencyMode) -> String {
        switch mode {
        case .tags: return "tags"
        case .bind(let bindings):
            let pairs = bindings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            return pairs.isEmpty ? "bind (always)" : "bind " + pairs.joined(separator: ",")
        }
    }

    static func entityNode(_ name: String) -> String { "entity:" + name }

    static func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}

public struct GraphDocument: Codable, Sendable, Hashable {
    public struct ServiceEntry: Codable, Sendable, Hashable {
        public var name: String
        public var tier: String
        public var owns: [String]
        public var families: [String]
        public var file: String
    }

    public struct EntityEntry: Codable, Sendable, Hashable {
        public var name: String
        public var owner: String
        public var attrs: [String]
        public var conflict: String
    }

    public struct FamilyEntry: Codable, Sendable, Hashable {
        public var id: String
        public var service: String
        public var name: String
        public var key: String
        public var parameters: [String]
        public var ttlSeconds: Double?
    }

    public struct EdgeEntry: Codable, Sendable, Hashable {
        /// What changes.
        public var from: String
        /// What it invalidates.
        public var to: String
        public var kind: String
        public var mode: String
        public var location: String
    }

    public var services: [ServiceEntry]
    public var entities: [EntityEntry]
    public var families: [FamilyEntry]
    public var edges: [EdgeEntry]
    public var cycles: [[String]]
}
