/// One node reached from a starting point, with the shortest chain that reaches it.
public struct ReachedNode: Sendable, Hashable {
    /// A family, or (when walking dependencies) an entity.
    public var node: DependencyTarget
    public var depth: Int
    /// From the start to this family, inclusive: e.g. [Product, product-service/product-page, ...].
    public var path: [String]
    /// How the last hop finds keys: true when bound from a template, false when through registrations.
    public var bound: Bool
    public var kind: GraphAnalysis.EdgeKind
}

extension GraphAnalysis {
    /// Every family a change to `start` invalidates, transitively, each once at its shortest depth.
    public func impact(of start: DependencyTarget) -> [ReachedNode] {
        breadthFirst(from: start) { node in
            directDependents(of: node).map { (.family($0.dependent), $0) }
        }
    }

    /// Every node `family` is computed from, transitively (entities included), at shortest depth.
    public func dependencies(of family: FamilyID) -> [ReachedNode] {
        breadthFirst(from: .family(family)) { node in
            guard case .family(let id) = node else { return [] }
            return directDependencies(of: id).map { ($0.target, $0) }
        }
    }

    private func breadthFirst(
        from start: DependencyTarget, next: (DependencyTarget) -> [(DependencyTarget, Edge)]
    ) -> [ReachedNode] {
        var reached: [ReachedNode] = []
        var seen: Set<DependencyTarget> = [start]
        var queue: [(node: DependencyTarget, path: [String])] = [(start, [start.description])]
        var head = 0
        while head < queue.count {
            let (node, path) = queue[head]
            head += 1
            for (neighbour, edge) in next(node) where seen.insert(neighbour).inserted {
                let chain = path + [neighbour.description]
                let bound: Bool
                if case .bind = edge.mode { bound = true } else { bound = false }
                reached.append(ReachedNode(node: neighbour, depth: chain.count - 1, path: chain, bound: bound, kind: edge.kind))
                queue.append((neighbour, chain))
            }
        }
        return reached
    }
}

/// Warnings that need the whole graph: cycles whose entities have no explicit conflict
/// policy, and families that nothing can invalidate but their TTL.
enum GraphWarnings {
    static func structural(_ graph: CacheGraph) -> [Diagnostic] {
        var log = DiagnosticLog()
        let analysis = GraphAnalysis(graph)
        for cycle in analysis.cycles {
            let feeding = Set(cycle.flatMap { id in
                (graph.families[id]?.dependencies ?? []).compactMap { dependency -> String? in
                    if case .entity(let name) = dependency.target { return name }
                    return nil
                }
            })
            let implicit = feeding.filter { graph.entities[$0]?.policyDeclared == false }.sorted()
            guard !implicit.isEmpty, let first = cycle.first, let location = graph.families[first]?.location else { continue }
            log.warning(location, "families \(cycle.map(\.description).joined(separator: ", ")) form a cycle, and entities \(implicit.joined(separator: ", ")) feeding it have no 'conflict' policy; highest-version is used.")
        }
        for family in graph.families.values where family.dependencies.isEmpty {
            let expiry = family.ttlMillis.map { "its ttl of \(TTLDuration.format(milliseconds: $0))" } ?? "nothing (it has no ttl either)"
            log.warning(family.location, "cache family \(family.id.name) depends on nothing, so only \(expiry) removes its keys.")
        }
        return log.items
    }
}
