import CascadeGraph

/// What the pipeline needs from the type-level graph, computed once at start.
struct GraphFacts: Sendable {
    /// Per entity type, the services with a family that depends on it through tags: they get
    /// the root tag even when the index knows none of their keys yet, so a key registered
    /// before the bus saw the registration is still dropped.
    let tagServices: [String: [String]]
    /// Entity types whose cascade reaches a circular component (collapsed by the closure).
    let cyclicEntities: Set<String>

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
        self.tagServices = tagServices.mapValues { $0.sorted() }

        // The same notion of a cycle as the closure's `circular` entries: two or more
        // families, or one depending on itself.
        let circular = Set(analysis.cycles.joined())
        cyclicEntities = Set(graph.entities.keys.filter { entity in
            analysis.impact(of: .entity(entity)).contains { reached in
                guard case .family(let family) = reached.node else { return false }
                return circular.contains(family)
            }
        })
    }
}
