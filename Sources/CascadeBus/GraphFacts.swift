import CascadeGraph

/// What the pipeline needs from the type-level graph, computed once at start, per entity
/// type in one record: an event looks its type up once.
struct GraphFacts: Sendable {
    struct Entity: Sendable {
        let policy: ConflictPolicy
        /// The services with a family that depends on the type through tags: they get the root
        /// tag even when the index knows none of their keys yet, so a key registered before
        /// the bus saw the registration is still dropped.
        let tagServices: [String]
        /// The type's cascade reaches a circular component (collapsed by the closure).
        let cyclic: Bool
    }

    /// By entity type; a type missing is not in the graph.
    let entities: [String: Entity]

    init(graph: CacheGraph) {
        let analysis = GraphAnalysis(graph)
        var tagServices: [String: Set<String>] = [:]
        for family in graph.families.values {
            for dependency in family.dependencies {
                if case .entity(let name) = dependency.target, case .tags = dependency.mode {
                    tagServices[name, default: []].insert(family.id.service)
                }
            }
        }

        // The same notion of a cycle as the closure's `circular` entries: two or more
        // families, or one depending on itself.
        let circular = Set(analysis.cycles.joined())
        entities = graph.entities.mapValues { type in
            let cyclic = analysis.impact(of: .entity(type.name)).contains { reached in
                guard case .family(let family) = reached.node else { return false }
                return circular.contains(family)
            }
            return Entity(policy: type.policy, tagServices: (tagServices[type.name] ?? []).sorted(), cyclic: cyclic)
        }
    }
}
