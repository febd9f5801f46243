import CascadeGraph
import CascadeWire
import Foundation

/// `impact Entity#id` offline: the concrete keys the graph's bind rules compute for one
/// instance, and the families only registrations (a running bus) can answer for.
public struct InstanceImpact: Codable {
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

    /// `attrs` are the event's `key=value` attributes for `attrs.*` bindings.
    public init(_ ref: EntityRef, attrs: [String], graph: CacheGraph, directory: String) throws(GraphQueryError) {
        guard graph.entities[ref.entity] != nil else {
            throw GraphQueryError("there is no entity type '\(ref.entity)' in \(directory).")
        }
        var attributes: [String: String] = [:]
        for pair in attrs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw GraphQueryError("--attr '\(pair)' is not key=value.")
            }
            attributes[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        let closure = InstanceIndex(graph: graph).closure(of: ref, attrs: attributes)
        root = closure.root
        keys = closure.entries.indices.map { index in
            let entry = closure.entries[index]
            return Key(service: String(entry.service), key: String(entry.key), depth: entry.depth, path: closure.path(to: index))
        }
        unresolved = closure.unresolved
        viaRegistrations = GraphAnalysis(graph).impact(of: .entity(ref.entity)).filter { !$0.bound }.map(\.node.description)
    }

    public func render(json: Bool) -> String {
        if json { return GraphExport.encode(self) }
        var lines = [graphTable([["DEPTH", "SERVICE", "KEY", "PATH"]]
            + keys.map { ["\($0.depth)", $0.service, $0.key, $0.path.joined(separator: " -> ")] })]
        lines += unresolved.map { "not computed: \($0)" }
        if !viaRegistrations.isEmpty {
            lines.append("also, through registrations only (ask a running bus with --live): \(viaRegistrations.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }
}
