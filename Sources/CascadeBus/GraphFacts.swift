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

        var cyclic: Set<String> = []
        for entity in graph.entities.keys {
            var queue = analysis.directDependents(of: .entity(entity)).map(\.dependent)
            var seen = Set(queue)
            while let family = queue.popLast() {
                if let component = analysis.componentOf[family], analysis.components[component].count > 1 {
                    cyclic.insert(entity)
                    break
                }
                for edge in analysis.directDependents(of: .family(family)) where seen.insert(edge.dependent).inserted {
                    queue.append(edge.dependent)
                }
            }
        }
        cyclicEntities = cyclic
    }
}
