import CascadeWire

/// The `bind` rules of a graph, indexed for the instance closure: which concrete keys a
/// changed entity instance, or an invalidated key, determines without any registration.
public struct TemplateBinder: Sendable {
    struct Rule: Sendable {
        var dependent: FamilyID
        var template: KeyTemplate
        var bindings: [(parameter: String, source: BindingSource)]
    }

    private var entityRules: [String: [Rule]] = [:]
    private var familyRules: [FamilyID: [Rule]] = [:]
    /// Services with a family that other families bind to: only their keys need matching.
    private var servicesWithFamilyRules: Set<String> = []
    /// Declared dependency targets per family, to flag undeclared registrations.
    private var declared: [FamilyID: Set<DependencyTarget>] = [:]
    public let graph: CacheGraph

    public init(_ graph: CacheGraph) {
        self.graph = graph
        for family in graph.families.values {
            declared[family.id] = Set(family.dependencies.map(\.target))
            for dependency in family.dependencies {
                guard case .bind(let bindings) = dependency.mode else { continue }
                let rule = Rule(
                    dependent: family.id, template: family.template,
                    bindings: bindings.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
                switch dependency.target {
                case .entity(let name): entityRules[name, default: []].append(rule)
                case .family(let id):
                    familyRules[id, default: []].append(rule)
                    servicesWithFamilyRules.insert(id.service)
                }
            }
        }
    }

    /// Keys bound from an entity change. `missing` hears about bindings the event could not fill
    /// (an attribute it did not carry): the bus should log those, they are possible misses.
    func keys(
        entity: String, id: String, attrs: [String: String],
        emit: (FamilyID, String, [String: String]) -> Void, missing: (String) -> Void
    ) {
        for rule in entityRules[entity] ?? [] {
            var values: [String: String] = [:]
            var complete = true
            for (parameter, source) in rule.bindings {
                switch source {
                case .id: values[parameter] = id
                case .attribute(let name):
                    if let value = attrs[name] { values[parameter] = value } else {
                        missing("\(rule.dependent) needs attrs.\(name), which the event for \(entity)#\(id) did not carry")
                        complete = false
                    }
                case .parameter: complete = false
                }
            }
            if complete, let key = rule.template.render(values) { emit(rule.dependent, key, values) }
        }
    }

    func hasFamilyRules(service: Substring) -> Bool {
        servicesWithFamilyRules.contains(String(service))
    }

    /// Keys bound from an invalidated key whose family is not known yet (a registered key).
    func keys(service: Substring, key: Substring, emit: (FamilyID, String, [String: String]) -> Void) {
        guard let (family, values) = graph.family(ofKey: key, service: String(service)) else { return }
        keys(family: family, values: values, emit: emit)
    }

    /// Keys bound from an invalidated key of a known family with known parameter values.
    /// Bound keys carry their family, so keys are never re-parsed into a different family:
    /// values only flow along `bind` edges and a bind cycle ends in keys already seen.
    func keys(family: FamilyID, values: [String: String], emit: (FamilyID, String, [String: String]) -> Void) {
        for rule in familyRules[family] ?? [] {
            var bound: [String: String] = [:]
            for (parameter, source) in rule.bindings {
                if case .parameter(let name) = source { bound[parameter] = values[name] }
            }
            if let dependentKey = rule.template.render(bound) { emit(rule.dependent, dependentKey, bound) }
        }
    }

    /// Whether the graph declares that `key` of `service` may depend on `dependency`.
    func declares(service: String, key: String, dependency: Dependency) -> Bool {
        guard let (family, _) = graph.family(ofKey: key[...], service: service),
              let targets = declared[family]
        else { return false }
        switch dependency {
        case .entity(let ref, _): return targets.contains(.entity(ref.entity))
        case .key(let ref):
            guard let (target, _) = graph.family(ofKey: ref.key[...], service: ref.service) else { return false }
            return targets.contains(.family(target))
        }
    }
}
