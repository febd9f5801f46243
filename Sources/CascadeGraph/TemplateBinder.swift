import CascadeWire

/// The `bind` rules of a graph, indexed for the instance closure: which concrete keys a
/// changed entity instance, or an invalidated key, determines without any registration.
/// Immutable classes, binder and rules: the closure passes them around per key, and copying
/// a struct of a dozen tables (or a rule of a few arrays) retained every one of them.
public final class TemplateBinder: Sendable {
    final class Rule: Sendable {
        let dependent: FamilyID
        let bindings: [(parameter: String, source: BindingSource)]
        let dependentNumber: UInt32
        /// `service/` of the dependent, then the template as literal bytes and the sources of
        /// its parameters: the closure renders whole names into one buffer, with no dictionary
        /// of values and no String until a name turns out to be new. Nil when a parameter of
        /// the template has no binding (the rule never renders a key).
        let parts: [Part]?

        init(dependent: FamilyID, dependentNumber: UInt32, template: KeyTemplate, bindings: [(parameter: String, source: BindingSource)]) {
            self.dependent = dependent
            self.dependentNumber = dependentNumber
            self.bindings = bindings
            var parts: [Part] = [.literal(Array((dependent.service + "/").utf8))]
            var complete = true
            for segment in template.segments {
                switch segment {
                case .literal(let text): parts.append(.literal(Array(text.utf8)))
                case .parameter(let name):
                    if let binding = bindings.first(where: { $0.parameter == name }) {
                        parts.append(.value(binding.source))
                    } else {
                        complete = false
                    }
                }
            }
            self.parts = complete ? parts : nil
        }
    }

    enum Part: Sendable {
        case literal([UInt8])
        case value(BindingSource)
    }

    private let entityRules: [String: [Rule]]
    /// By family number (index 0 = no family): the rules of the families bound to it.
    private let numberRules: [[Rule]]
    /// Declared dependency targets per family, to flag undeclared registrations.
    private let declared: [FamilyID: Set<DependencyTarget>]
    /// Families numbered from 1 (0 = no family), so the index can keep a key's family in a
    /// `UInt32` per interned id instead of matching templates on every closure.
    private let familyNumbers: [FamilyID: UInt32]
    private let numberedFamilies: [FamilyID]
    /// By family number: whether other families bind to it (its keys' parameters matter).
    private let numberHasRules: [Bool]
    /// By family number: whether the family lies in a circular component (a strongly
    /// connected component of two or more families, or one depending on itself).
    private let numberIsCircular: [Bool]
    /// By service: its families' templates with their numbers, most literal text first, then
    /// file order: the order in which `CacheGraph.family(ofKey:)` prefers a fit.
    private let serviceTemplates: [String: [(template: KeyTemplate, number: UInt32)]]
    public let graph: CacheGraph

    public init(_ graph: CacheGraph) {
        self.graph = graph
        var entityRules: [String: [Rule]] = [:]
        var declared: [FamilyID: Set<DependencyTarget>] = [:]
        var familyNumbers: [FamilyID: UInt32] = [:]
        var numberedFamilies: [FamilyID] = []
        var numberHasRules: [Bool] = [false]
        var numberIsCircular: [Bool] = [false]
        for id in graph.familyIDs {
            numberedFamilies.append(id)
            familyNumbers[id] = UInt32(numberedFamilies.count)
        }
        // Every rule's dependent is a family of the graph, so has a number; a rule bound to a
        // family missing from the graph could never be reached (bound and resolved keys
        // always have a family of the graph).
        var numberRules: [[Rule]] = Array(repeating: [], count: numberedFamilies.count + 1)
        for family in graph.families.values {
            declared[family.id] = Set(family.dependencies.map(\.target))
            for dependency in family.dependencies {
                guard case .bind(let bindings) = dependency.mode else { continue }
                let rule = Rule(
                    dependent: family.id, dependentNumber: familyNumbers[family.id] ?? 0, template: family.template,
                    bindings: bindings.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
                switch dependency.target {
                case .entity(let name): entityRules[name, default: []].append(rule)
                case .family(let id):
                    if let number = familyNumbers[id] { numberRules[Int(number)].append(rule) }
                }
            }
        }
        let circularFamilies = Set(GraphAnalysis(graph).cycles.joined())
        for id in numberedFamilies {
            numberHasRules.append(!numberRules[Int(familyNumbers[id] ?? 0)].isEmpty)
            numberIsCircular.append(circularFamilies.contains(id))
        }
        var serviceTemplates: [String: [(template: KeyTemplate, number: UInt32)]] = [:]
        for (service, owner) in graph.services {
            let fits = owner.families.compactMap { name -> (template: KeyTemplate, number: UInt32)? in
                let id = FamilyID(service: service, name: name)
                guard let family = graph.families[id], let number = familyNumbers[id] else { return nil }
                return (family.template, number)
            }
            // Stable: equal literal lengths keep file order, as the graph's own lookup does.
            serviceTemplates[service] = fits.enumerated().sorted {
                ($0.element.template.literalLength, -$0.offset) > ($1.element.template.literalLength, -$1.offset)
            }.map(\.element)
        }
        self.serviceTemplates = serviceTemplates
        self.entityRules = entityRules
        self.numberRules = numberRules
        self.declared = declared
        self.familyNumbers = familyNumbers
        self.numberedFamilies = numberedFamilies
        self.numberHasRules = numberHasRules
        self.numberIsCircular = numberIsCircular
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
        guard let candidates = serviceTemplates[service] else { return KeyFamily(number: 0) }
        let key = String(decoding: UnsafeBufferPointer(rebasing: bytes[(slash + 1)...]), as: UTF8.self)[...]
        // The first fit is `CacheGraph.family(ofKey:)`'s answer; values only where they are read.
        for (template, number) in candidates {
            if numberHasRules[Int(number)] {
                if let values = template.match(key) { return KeyFamily(number: number, values: values) }
            } else if template.matches(key) {
                return KeyFamily(number: number)
            }
        }
        return KeyFamily(number: 0)
    }

    func hasFamilyRules(number: UInt32) -> Bool { numberHasRules[Int(number)] }

    /// Whether the family numbered `number` (0 = none) lies in a circular component.
    func isCircular(number: UInt32) -> Bool { numberIsCircular[Int(number)] }

    func family(number: UInt32) -> FamilyID? {
        number == 0 ? nil : numberedFamilies[Int(number) - 1]
    }

    /// Hears a bound key: its family number, its name (`service/key`) as bytes, valid only
    /// during the call, and its parameter values when other families bind to its family (nil
    /// otherwise: nothing would read them).
    typealias Emit = (UInt32, UnsafeBufferPointer<UInt8>, [String: String]?) -> Void

    /// Keys bound from an entity change, spelled in `name`. `missing` hears about bindings the
    /// event could not fill (an attribute it did not carry): the bus should log those, they are
    /// possible misses.
    func keys(
        entity: String, id: String, attrs: [String: String], name: inout [UInt8],
        emit: Emit, missing: (String) -> Void
    ) {
        guard let rules = entityRules[entity] else { return }
        for rule in rules {
            var complete = true
            for (_, source) in rule.bindings {
                switch source {
                case .id: break
                case .attribute(let attribute):
                    if attrs[attribute] == nil {
                        missing("\(rule.dependent) needs attrs.\(attribute), which the event for \(entity)#\(id) did not carry")
                        complete = false
                    }
                case .parameter: complete = false
                }
            }
            func value(_ source: BindingSource) -> String? {
                switch source {
                case .id: return id
                case .attribute(let attribute): return attrs[attribute]
                case .parameter: return nil
                }
            }
            guard complete else { continue }
            bind(rule, into: &name, value: value, emit: emit)
        }
    }

    /// Keys bound from an invalidated key whose family is not known yet (a registered key).
    func keys(service: Substring, key: Substring, name: inout [UInt8], emit: Emit) {
        guard let (family, values) = graph.family(ofKey: key, service: String(service)),
              let number = familyNumbers[family]
        else { return }
        keys(family: number, values: values, name: &name, emit: emit)
    }

    /// Keys bound from an invalidated key of a known family (by number) with known parameter
    /// values. Bound keys carry their family, so keys are never re-parsed into a different
    /// family: values only flow along `bind` edges and a bind cycle ends in keys already seen.
    func keys(family number: UInt32, values: [String: String], name: inout [UInt8], emit: Emit) {
        func value(_ source: BindingSource) -> String? {
            guard case .parameter(let parameter) = source else { return nil }
            return values[parameter]
        }
        for rule in numberRules[Int(number)] { bind(rule, into: &name, value: value, emit: emit) }
    }

    /// Spells the key `rule` binds into `name` and emits it, with its parameter values when
    /// other families bind to its family; nothing when a value is missing.
    private func bind(_ rule: Rule, into name: inout [UInt8], value: (BindingSource) -> String?, emit: Emit) {
        guard render(rule, into: &name, value: value) else { return }
        var values: [String: String]?
        if numberHasRules[Int(rule.dependentNumber)] {
            values = [:]
            for (parameter, source) in rule.bindings { values?[parameter] = value(source) }
        }
        name.withUnsafeBufferPointer { emit(rule.dependentNumber, $0, values) }
    }

    /// Spells the `service/key` name `rule` binds into `name`; false when a value is missing.
    private func render(_ rule: Rule, into name: inout [UInt8], value: (BindingSource) -> String?) -> Bool {
        guard let parts = rule.parts else { return false }
        name.removeAll(keepingCapacity: true)
        for part in parts {
            switch part {
            case .literal(let bytes): name.append(contentsOf: bytes)
            case .value(let source):
                guard let text = value(source) else { return false }
                name.append(contentsOf: text.utf8)
            }
        }
        return true
    }

    /// Whether the graph declares that a key of `family` may depend on `dependency`; `target`
    /// is the dependency key's family (ignored for an entity dependency).
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
