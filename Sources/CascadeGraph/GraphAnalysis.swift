/// Type-level analysis of a loaded graph: edge classes, strongly connected components and
/// the order in which changes flow from entities to the families built on them.
public struct GraphAnalysis: Sendable {
    public enum EdgeKind: String, Sendable, Hashable, Codable {
        /// A family depends on an entity.
        case primary
        /// A family depends on another family outside its cycle.
        case secondary
        /// A family depends on a family of its own strongly connected component.
        case circular
    }

    /// `dependent` is computed from `target`: a change to target invalidates dependent.
    public struct Edge: Sendable, Hashable {
        public var dependent: FamilyID
        public var target: DependencyTarget
        public var mode: DependencyMode
        public var kind: EdgeKind
        public var location: SourceLocation
    }

    public let graph: CacheGraph
    public let edges: [Edge]
    /// Every family's component; components listed with dependencies before dependents.
    public let components: [[FamilyID]]
    public let componentOf: [FamilyID: Int]
    /// Components that are real cycles: two or more families, or one that depends on itself.
    public let cycles: [[FamilyID]]
    /// Positions in `edges`, by target and by dependent: lookups stay linear in the answer,
    /// so a graph of ten thousand families loads in linear time.
    private let edgesByTarget: [DependencyTarget: [Int]]
    private let edgesByDependent: [FamilyID: [Int]]

    public init(_ graph: CacheGraph) {
        self.graph = graph
        let ids = graph.familyIDs
        let number = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        // Successors point from a dependent to the families it depends on, so Tarjan lists
        // dependencies first: the condensation's topological order for the flow of changes.
        let raw = stronglyConnectedComponents(count: ids.count) { node in
            (graph.families[ids[node]]?.dependencies ?? []).compactMap { dependency in
                if case .family(let id) = dependency.target { return number[id] }
                return nil
            }
        }
        components = raw.map { $0.map { ids[$0] }.sorted() }
        var componentOf: [FamilyID: Int] = [:]
        for (index, component) in components.enumerated() {
            for id in component { componentOf[id] = index }
        }
        self.componentOf = componentOf
        var edges: [Edge] = []
        for id in ids {
            guard let family = graph.families[id] else { continue }
            for dependency in family.dependencies {
                let kind: EdgeKind
                switch dependency.target {
                case .entity: kind = .primary
                case .family(let target): kind = componentOf[target] == componentOf[id] ? .circular : .secondary
                }
                edges.append(Edge(dependent: id, target: dependency.target, mode: dependency.mode, kind: kind, location: dependency.location))
            }
        }
        self.edges = edges
        var byTarget: [DependencyTarget: [Int]] = [:]
        var byDependent: [FamilyID: [Int]] = [:]
        var selfDependent: Set<FamilyID> = []
        for (position, edge) in edges.enumerated() {
            byTarget[edge.target, default: []].append(position)
            byDependent[edge.dependent, default: []].append(position)
            if edge.kind == .circular, edge.target == .family(edge.dependent) { selfDependent.insert(edge.dependent) }
        }
        edgesByTarget = byTarget
        edgesByDependent = byDependent
        cycles = components.filter { $0.count > 1 || selfDependent.contains($0[0]) }
    }

    /// The families that directly depend on a node.
    public func directDependents(of target: DependencyTarget) -> [Edge] {
        (edgesByTarget[target] ?? []).map { edges[$0] }
    }

    /// The edges out of a family: what it is computed from.
    public func directDependencies(of family: FamilyID) -> [Edge] {
        (edgesByDependent[family] ?? []).map { edges[$0] }
    }
}
