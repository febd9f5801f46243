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
    /// Families numbered from 1 (0 = no family), so the index can keep a key's family in a
    /// `UInt32` per interned id instead of matching templates on every closure.
    private var familyNumbers: [FamilyID: UInt32] = [:]
    private var numberedFamilies: [FamilyID] = []
    /// By family number: whether other families bind to it (its keys' parameters matter).
    private var numberHasRules: [Bool] = [false]
    /// By family number: whether the family lies in a circular component (a strongly
    /// connected component of two or more families, or one depending on itself).
    private var numberIsCircular: [Bool] = [false]
    /// The same families by id, for bound keys (which carry their family, not its number).
    private var circularFamilies: Set<FamilyID> = []
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
        circularFamilies = Set(GraphAnalysis(graph).cycles.joined())
        for id in graph.familyIDs {
            numberedFamilies.append(id)
            familyNumbers[id] = UInt32(numberedFamilies.count)
            numberHasRules.append(familyRules[id] != nil)
            numberIsCircular.append(circularFamilies.contains(id))
        }
    }

    /// A resolved key: its family number (0 = none) and, only when other families bind to
    /// that family, its template parameters.
    struct KeyFamily {
        var number: UInt32
        var values: [String: String]?
    }

    /// Resolves an interned name spelled `service/key`, split at the first `/` as
    /// `InstanceClosure.Entry` does. Names without `/` (entity instances) have no family.
    func resolve(name bytes: UnsafeBufferPointer<UInt8>) -> KeyFamily {
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else { return KeyFamily(number: 0) }
        let service = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<slash]), as: UTF8.self)
        guard graph.services[service] != nil else { return KeyFamily(number: 0) }
        let key = String(decoding: UnsafeBufferPointer(rebasing: bytes[(slash + 1)...]), as: UTF8.self)
        guard let (family, values) = graph.family(ofKey: key[...], service: service),
              let number = familyNumbers[family]
        else { return KeyFamily(number: 0) }
        return KeyFamily(number: number, values: numberHasRules[Int(number)] ? values : nil)
    }

    func hasFamilyRules(number: UInt32) -> Bool { numberHasRules[Int(number)] }

    /// Whether the family numbered `number` (0 = none) lies in a circular component.
    func isCircular(number: UInt32) -> Bool { numberIsCircular[Int(number)] }

    /// Whether `family` lies in a circular component; no hashing when the graph has no cycle.
    func isCircular(_ family: FamilyID) -> Bool {
        !circularFamilies.isEmpty && circularFamilies.contains(family)
    }

    func family(number: UInt32) -> FamilyID? {
        number == 0 ? nil : numberedFamilies[Int(number) - 1]
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
        let family = graph.family(ofKey: key[...], service: service)?.0
        var target: FamilyID?
        if case .key(let ref) = dependency { target = graph.family(ofKey: ref.key[...], service: ref.service)?.0 }
        return declares(family: family, dependency: dependency, target: target)
    }

    /// As above with the families already resolved: `target` is the dependency key's family
    /// (ignored for an entity dependency).
    func declares(family: FamilyID?, dependency: Dependency, target: FamilyID?) -> Bool {
        guard let family, let targets = declared[family] else { return false }
        switch dependency {
        case .entity(let ref, _): return targets.contains(.entity(ref.entity))
        case .key:
            guard let target else { return false }
            return targets.contains(.family(target))
        }
    }
}
