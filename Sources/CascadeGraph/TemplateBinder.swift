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
        /// `service/` of the dependent, then its template as literal bytes and the sources of
        /// its parameters, a source key's parameter known by its position in that key's
        /// template: the closure renders whole names into one buffer, with no dictionary of
        /// values and no String until a name turns out to be new. Nil when a parameter of the
        /// template has no binding (the rule never renders a key).
        let parts: [Part]?

        /// `sourceParameters`: the parameters of the source family's template, in order (none
        /// for an entity).
        init(
            dependent: FamilyID, dependentNumber: UInt32, template: KeyTemplate,
            bindings: [(parameter: String, source: BindingSource)], sourceParameters: [String]
        ) {
            self.dependent = dependent
            self.dependentNumber = dependentNumber
            self.bindings = bindings
            var parts: [Part] = [.literal(Array((dependent.service + "/").utf8))]
            var complete = true
            for segment in template.segments {
                switch segment {
                case .literal(let text): parts.append(.literal(Array(text.utf8)))
                case .parameter(let name):
                    switch bindings.first(where: { $0.parameter == name })?.source {
                    case .id?: parts.append(.id)
                    case .attribute(let attribute)?: parts.append(.attribute(attribute))
                    case .parameter(let parameter)?:
                        if let position = sourceParameters.firstIndex(of: parameter) {
                            parts.append(.parameter(position))
                        } else {
                            complete = false
                        }
                    case nil: complete = false
                    }
                }
            }
            self.parts = complete ? parts : nil
        }
    }

    enum Part: Sendable {
        case literal([UInt8])
        /// The changed entity's id.
        case id
        /// An attribute of the event.
        case attribute(String)
        /// The value of the source key's parameter at this position of its template.
        case parameter(Int)
    }

    /// Where one parameter value lies in a name: byte offsets from the name's start.
    struct ValueSpan: Sendable, Hashable {
        var start: Int32
        var length: Int32
    }

    private let entityRules: [String: [Rule]]
    /// By family number (index 0 = no family): the rules of the families bound to it.
    private let numberRules: [[Rule]]
    /// By family number: the entities and the families it declares dependencies on, to flag
    /// undeclared registrations (none for number 0).
    private let declaredEntities: [[[UInt8]]]
    private let declaredFamilies: [[UInt32]]
    /// Families numbered from 1 (0 = no family), so the index can keep a key's family in a
    /// `UInt32` per interned id instead of matching templates on every closure.
    private let familyNumbers: [FamilyID: UInt32]
    private let numberedFamilies: [FamilyID]
    /// By family number: whether other families bind to it (its keys' parameters matter).
    private let numberHasRules: [Bool]
    /// By family number: how many parameters its template has.
    private let numberParameterCounts: [Int]
    /// By family number: whether the family lies in a circular component (a strongly
    /// connected component of two or more families, or one depending on itself).
    private let numberIsCircular: [Bool]
    /// By service: its families' templates with their numbers, most literal text first, then
    /// file order: the order in which `CacheGraph.family(ofKey:)` prefers a fit.
    private let serviceTemplates: [String: [(template: KeyTemplate, bytes: TemplateBytes, number: UInt32)]]
    public let graph: CacheGraph

    public init(_ graph: CacheGraph) {
        self.graph = graph
        var entityRules: [String: [Rule]] = [:]
        var familyNumbers: [FamilyID: UInt32] = [:]
        var numberedFamilies: [FamilyID] = []
        var numberHasRules: [Bool] = [false]
        var numberIsCircular: [Bool] = [false]
        var numberParameterCounts: [Int] = [0]
        for id in graph.familyIDs {
            numberedFamilies.append(id)
            familyNumbers[id] = UInt32(numberedFamilies.count)
        }
        // Every rule's dependent is a family of the graph, so has a number; a rule bound to a
        // family missing from the graph could never be reached (bound and resolved keys
        // always have a family of the graph).
        var numberRules: [[Rule]] = Array(repeating: [], count: numberedFamilies.count + 1)
        for family in graph.families.values {
            for dependency in family.dependencies {
                guard case .bind(let bindings) = dependency.mode else { continue }
                var sourceParameters: [String] = []
                if case .family(let id) = dependency.target { sourceParameters = graph.families[id]?.template.parameters ?? [] }
                let rule = Rule(
                    dependent: family.id, dependentNumber: familyNumbers[family.id] ?? 0, template: family.template,
                    bindings: bindings.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, sourceParameters: sourceParameters)
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
            numberParameterCounts.append(graph.families[id]?.template.parameters.count ?? 0)
        }
        var serviceTemplates: [String: [(template: KeyTemplate, bytes: TemplateBytes, number: UInt32)]] = [:]
        for (service, owner) in graph.services {
            let fits = owner.families.compactMap { name -> (template: KeyTemplate, bytes: TemplateBytes, number: UInt32)? in
                let id = FamilyID(service: service, name: name)
                guard let family = graph.families[id], let number = familyNumbers[id] else { return nil }
                return (family.template, TemplateBytes(family.template), number)
            }
            // Stable: equal literal lengths keep file order, as the graph's own lookup does.
            serviceTemplates[service] = fits.enumerated().sorted {
                ($0.element.template.literalLength, -$0.offset) > ($1.element.template.literalLength, -$1.offset)
            }.map(\.element)
        }
        self.serviceTemplates = serviceTemplates
        self.entityRules = entityRules
        self.numberRules = numberRules
        declaredEntities = [[]] + numberedFamilies.map { id in
            (graph.families[id]?.dependencies ?? []).compactMap { if case .entity(let name) = $0.target { Array(name.utf8) } else { nil } }
        }
        declaredFamilies = [[]] + numberedFamilies.map { id in
            (graph.families[id]?.dependencies ?? []).compactMap { if case .family(let target) = $0.target { familyNumbers[target] } else { nil } }
        }
        self.familyNumbers = familyNumbers
        self.numberedFamilies = numberedFamilies
        self.numberHasRules = numberHasRules
        self.numberIsCircular = numberIsCircular
        self.numberParameterCounts = numberParameterCounts
    }

    /// A resolved key: its family number (0 = none) and, only when other families bind to
    /// that family, where its template's parameters lie in the name, in template order.
    struct KeyFamily {
        var number: UInt32
        var spans: [ValueSpan]?
    }

    /// Resolves an interned name spelled `service/key`, split at the first `/` as
    /// `InstanceClosure.Entry` does. Names without `/` (entity instances) have no family.
    func resolve(name bytes: UnsafeBufferPointer<UInt8>) -> KeyFamily {
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else { return KeyFamily(number: 0) }
        let service = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<slash]), as: UTF8.self)
        let keyBytes = UnsafeBufferPointer(rebasing: bytes[(slash + 1)...])
        // In ASCII without a carriage return a byte is a Character (`\r\n` is one), so the
        // templates fit the bytes as they fit the text: no String for the key.
        guard keyBytes.allSatisfy({ $0 < 0x80 && $0 != 0x0D }) else {
            return resolve(service: service, key: String(decoding: keyBytes, as: UTF8.self)[...])
        }
        guard let candidates = serviceTemplates[service] else { return KeyFamily(number: 0) }
        let offset = Int32(truncatingIfNeeded: slash + 1)
        for (_, template, number) in candidates {
            if numberHasRules[Int(number)] {
                var spans: [ValueSpan] = []
                let fits = template.walk(UnsafeRawBufferPointer(keyBytes)) { start, length in
                    spans.append(ValueSpan(start: offset + Int32(truncatingIfNeeded: start), length: Int32(truncatingIfNeeded: length)))
                }
                if fits { return KeyFamily(number: number, spans: spans) }
            } else if template.matches(UnsafeRawBufferPointer(keyBytes)) {
                return KeyFamily(number: number)
            }
        }
        return KeyFamily(number: 0)
    }

    /// Resolves `key` of `service`; spans count from the start of `service/key`.
    func resolve(service: String, key: Substring) -> KeyFamily {
        guard let candidates = serviceTemplates[service] else { return KeyFamily(number: 0) }
        // The first fit is `CacheGraph.family(ofKey:)`'s answer; spans only where they are read.
        for (template, _, number) in candidates {
            if numberHasRules[Int(number)] {
                if let ranges = template.matchRanges(key) {
                    let offset = service.utf8.count + 1
                    return KeyFamily(number: number, spans: ranges.map {
                        ValueSpan(start: Int32(truncatingIfNeeded: offset + $0.lowerBound), length: Int32(truncatingIfNeeded: $0.count))
                    })
                }
            } else if template.matches(key) {
                return KeyFamily(number: number)
            }
        }
        return KeyFamily(number: 0)
    }

    /// The parameter values of a resolved name, by parameter (for tests and the API edge).
    func values(of resolved: KeyFamily, name: UnsafeBufferPointer<UInt8>) -> [String: String]? {
        guard let spans = resolved.spans, let family = family(number: resolved.number),
              let parameters = graph.families[family]?.template.parameters
        else { return nil }
        var values: [String: String] = [:]
        for (parameter, span) in zip(parameters, spans) {
            values[parameter] = String(decoding: name[Int(span.start)..<Int(span.start + span.length)], as: UTF8.self)
        }
        return values
    }

    func hasFamilyRules(number: UInt32) -> Bool { numberHasRules[Int(number)] }

    /// How many parameters the template of the family numbered `number` has.
    func parameterCount(number: UInt32) -> Int { numberParameterCounts[Int(number)] }

    /// Whether the family numbered `number` (0 = none) lies in a circular component.
    func isCircular(number: UInt32) -> Bool { numberIsCircular[Int(number)] }

    func family(number: UInt32) -> FamilyID? {
        number == 0 ? nil : numberedFamilies[Int(number) - 1]
    }

    /// Hears a bound key: its family number, its name (`service/key`) as bytes, and where its
    /// parameters lie in that name when other families bind to its family (empty otherwise:
    /// nothing would read them); both valid only during the call.
    typealias Emit = (UInt32, UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<ValueSpan>) -> Void

    /// Reused between calls: the name being spelled and where its parameters lie.
    struct Spelling {
        var name: [UInt8] = []
        var spans: [ValueSpan] = []
    }

    /// Keys bound from an entity change. `missing` hears about bindings the event could not
    /// fill (an attribute it did not carry): the bus should log those, they are possible misses.
    func keys(
        entity: String, id: String, attrs: [String: String], spelling: inout Spelling,
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
            guard complete else { continue }
            bind(rule, spelling: &spelling, emit: emit) { part, name in
                switch part {
                case .id: name.append(contentsOf: id.utf8)
                case .attribute(let attribute):
                    guard let value = attrs[attribute] else { return false }
                    name.append(contentsOf: value.utf8)
                case .literal, .parameter: return false
                }
                return true
            }
        }
    }

    /// Keys bound from an invalidated key whose family is not known yet; `name` spells it
    /// `service/key`.
    func keys(service: String, key: String, name: UnsafeBufferPointer<UInt8>, spelling: inout Spelling, emit: Emit) {
        let resolved = resolve(service: service, key: key[...])
        guard let spans = resolved.spans else { return }
        spans.withUnsafeBufferPointer { keys(family: resolved.number, source: name, spans: $0, spelling: &spelling, emit: emit) }
    }

    /// Keys bound from an invalidated key of a known family (by number), spelled `source`,
    /// with its parameters at `spans`. Bound keys carry their family, so keys are never
    /// re-parsed into a different family: values only flow along `bind` edges and a bind cycle
    /// ends in keys already seen. `source` must not change while this runs.
    func keys(
        family number: UInt32, source: UnsafeBufferPointer<UInt8>, spans: UnsafeBufferPointer<ValueSpan>,
        spelling: inout Spelling, emit: Emit
    ) {
        for rule in numberRules[Int(number)] {
            bind(rule, spelling: &spelling, emit: emit) { part, name in
                guard case .parameter(let position) = part, position < spans.count else { return false }
                let span = spans[position]
                name.append(contentsOf: UnsafeBufferPointer(rebasing: source[Int(span.start)..<Int(span.start + span.length)]))
                return true
            }
        }
    }

    /// Spells the `service/key` name `rule` binds and emits it, with where its parameters lie
    /// when other families bind to its family; nothing when a value is missing. `value`
    /// appends the value of a part to the name, false when it has none.
    private func bind(
        _ rule: Rule, spelling: inout Spelling, emit: Emit, value: (Part, inout [UInt8]) -> Bool
    ) {
        guard let parts = rule.parts else { return }
        let recordSpans = numberHasRules[Int(rule.dependentNumber)]
        spelling.name.removeAll(keepingCapacity: true)
        spelling.spans.removeAll(keepingCapacity: true)
        for part in parts {
            if case .literal(let bytes) = part {
                spelling.name.append(contentsOf: bytes)
                continue
            }
            let start = spelling.name.count
            guard value(part, &spelling.name) else { return }
            if recordSpans {
                spelling.spans.append(ValueSpan(
                    start: Int32(truncatingIfNeeded: start), length: Int32(truncatingIfNeeded: spelling.name.count - start)))
            }
        }
        spelling.name.withUnsafeBufferPointer { name in
            spelling.spans.withUnsafeBufferPointer { emit(rule.dependentNumber, name, $0) }
        }
    }

    /// Whether the family numbered `number` declares a dependency on entity `entity` (false
    /// for no family).
    func declares(number: UInt32, entity: UnsafeBufferPointer<UInt8>) -> Bool {
        declaredEntities[Int(number)].contains { $0.elementsEqual(entity) }
    }

    func declares(number: UInt32, entity: String) -> Bool {
        var entity = entity
        return entity.withUTF8 { declares(number: number, entity: $0) }
    }

    /// Whether the family numbered `number` declares a dependency on the family numbered
    /// `target` (false when either is none).
    func declares(number: UInt32, target: UInt32) -> Bool {
        target != 0 && declaredFamilies[Int(number)].contains(target)
    }

    /// The number of a family of the graph (0: not one).
    func number(of family: FamilyID) -> UInt32 { familyNumbers[family] ?? 0 }
}
