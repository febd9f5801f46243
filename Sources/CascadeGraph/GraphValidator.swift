/// Resolves names across service files and checks the bindings; produces the graph when
/// nothing is wrong. Every problem is reported, not only the first.
struct GraphValidator {
    private var log = DiagnosticLog()
    private var services: [String: Service] = [:]
    private var entities: [String: EntityType] = [:]
    private var families: [FamilyID: CacheFamily] = [:]
    private var familyLocations: [FamilyID: SourceLocation] = [:]

    static func validate(_ drafts: [ServiceDraft]) -> (CacheGraph?, [Diagnostic]) {
        var validator = GraphValidator()
        validator.declare(drafts)
        for draft in drafts where validator.services[draft.name]?.file == draft.file {
            for family in draft.families { validator.resolve(family, of: draft) }
        }
        validator.warnUnused()
        let diagnostics = validator.log.items
        guard !diagnostics.contains(where: { $0.severity == .error }) else { return (nil, diagnostics) }
        let graph = CacheGraph(services: validator.services, entities: validator.entities, families: validator.families)
        return (graph, diagnostics + GraphWarnings.structural(graph))
    }

    /// First pass: services, the entities they own and their family names, so that references
    /// may point forward to any file.
    private mutating func declare(_ drafts: [ServiceDraft]) {
        for draft in drafts {
            if let first = services[draft.name] {
                log.error(draft.location, "service '\(draft.name)' is already described in \(first.location); one file per service.")
                continue
            }
            let stem = (draft.file.split(separator: "/").last ?? "").split(separator: ".").first.map(String.init) ?? ""
            if stem != draft.name {
                log.warning(draft.location, "file \(draft.file) describes service '\(draft.name)'; name the file \(draft.name).yaml so it is easy to find.")
            }
            var owned: [String] = []
            for entity in draft.entities {
                if let first = entities[entity.name] {
                    log.error(entity.location, "entity \(entity.name) is owned by both \(first.owner) (\(first.location)) and \(draft.name); an entity type has one owner.")
                    continue
                }
                entities[entity.name] = EntityType(
                    name: entity.name, owner: draft.name, attributes: entity.attributes,
                    policy: entity.policy ?? .highestVersion, policyDeclared: entity.policy != nil,
                    location: entity.location)
                owned.append(entity.name)
            }
            var names: [String] = []
            for family in draft.families {
                let id = FamilyID(service: draft.name, name: family.name)
                familyLocations[id] = family.location
                if let template = family.template { pendingTemplates[id] = template }
                names.append(family.name)
            }
            services[draft.name] = Service(
                name: draft.name, tier: draft.tier, owns: owned, families: names, file: draft.file, location: draft.location)
        }
        if services.isEmpty == false, familyLocations.isEmpty, let first = drafts.first {
            log.error(first.location, "the graph declares no cache families; there is nothing to invalidate.")
        }
    }

    private mutating func resolve(_ draft: FamilyDraft, of service: ServiceDraft) {
        guard let template = draft.template else { return }
        let id = FamilyID(service: service.name, name: draft.name)
        var dependencies: [FamilyDependency] = []
        for dependency in draft.dependencies {
            guard let target = resolveTarget(dependency, from: service.name) else { continue }
            let mode: DependencyMode
            if let bindings = dependency.bindings {
                guard let bound = resolveBindings(bindings, target: target, dependent: id, template: template, at: dependency.location) else { continue }
                mode = .bind(bound)
            } else {
                mode = .tags
            }
            dependencies.append(FamilyDependency(target: target, mode: mode, location: dependency.location))
        }
        families[id] = CacheFamily(
            id: id, template: template, ttlMillis: draft.ttlMillis, adaptiveTTL: draft.adaptiveTTL,
            tier: draft.tier ?? service.tier, dependencies: dependencies, location: draft.location)
    }

    private mutating func resolveTarget(_ dependency: DependencyDraft, from service: String) -> DependencyTarget? {
        switch dependency.target {
        case .entity(let name):
            guard entities[name] != nil else {
                var sentence = "unknown entity '\(name)'"
                if let close = closest(name, among: Array(entities.keys)) { sentence += "; did you mean '\(close)'?" }
                else { sentence += "; entities are declared under 'owns' of the service that publishes them." }
                log.error(dependency.location, sentence)
                return nil
            }
            return .entity(name)
        case .cache(let owner, let family):
            let owner = owner ?? service
            guard services[owner] != nil else {
                log.error(dependency.location, "unknown service '\(owner)' in cache dependency '\(owner)/\(family)'.")
                return nil
            }
            let id = FamilyID(service: owner, name: family)
            guard familyLocations[id] != nil else {
                let known = familyLocations.keys.filter { $0.service == owner }.map(\.name)
                var sentence = "unknown cache family '\(family)' in service \(owner)"
                if let close = closest(family, among: known) { sentence += "; did you mean '\(close)'?" } else { sentence += "." }
                log.error(dependency.location, sentence)
                return nil
            }
            return .family(id)
        }
    }

    private mutating func resolveBindings(
        _ bindings: [DependencyDraft.Binding], target: DependencyTarget, dependent: FamilyID,
        template: KeyTemplate, at location: SourceLocation
    ) -> [String: BindingSource]? {
        var result: [String: BindingSource] = [:]
        var ok = true
        let targetParameters = targetTemplateParameters(target)
        for binding in bindings {
            guard template.parameters.contains(binding.parameter) else {
                log.error(binding.location, "binds '\(binding.parameter)', which is not a parameter of key template '\(template.text)' of \(dependent.name).")
                ok = false
                continue
            }
            guard let source = resolveSource(binding, target: target, targetParameters: targetParameters) else {
                ok = false
                continue
            }
            result[binding.parameter] = source
        }
        for parameter in template.parameters where !bindings.contains(where: { $0.parameter == parameter }) {
            log.error(location, "template parameter '\(parameter)' of \(dependent.name) ('\(template.text)') is not bound by this dependency on \(target); bind it, or use via: tags.")
            ok = false
        }
        return ok ? result : nil
    }

    private mutating func resolveSource(
        _ binding: DependencyDraft.Binding, target: DependencyTarget, targetParameters: [String]?
    ) -> BindingSource? {
        let text = binding.source
        switch target {
        case .entity(let name):
            if text == "id" { return .id }
            if text.hasPrefix("attrs.") {
                let attribute = String(text.dropFirst("attrs.".count))
                if entities[name]?.attributes.contains(attribute) == true { return .attribute(attribute) }
                log.error(binding.location, "binds '\(binding.parameter)' to attribute '\(attribute)', which entity \(name) does not declare in its 'attrs'.")
                return nil
            }
            log.error(binding.location, "binds '\(binding.parameter)' to '\(text)'; from an entity, bind to id or attrs.<name>.")
            return nil
        case .family(let family):
            guard let parameters = targetParameters else { return nil }
            if parameters.contains(text) { return .parameter(text) }
            let listed = parameters.isEmpty ? "none" : parameters.joined(separator: ", ")
            log.error(binding.location, "binds '\(binding.parameter)' to '\(text)', which is not a parameter of \(family)'s key (its parameters: \(listed)).")
            return nil
        }
    }

    /// The parameters of the family a dependency points at; nil when that family's own key is broken.
    private func targetTemplateParameters(_ target: DependencyTarget) -> [String]? {
        guard case .family(let id) = target else { return [] }
        return pendingTemplates[id]?.parameters
    }

    private var pendingTemplates: [FamilyID: KeyTemplate] = [:]

    private mutating func warnUnused() {
        let used = Set(families.values.flatMap { $0.dependencies.compactMap { dependency -> String? in
            if case .entity(let name) = dependency.target { return name }
            return nil
        } })
        for entity in entities.values where !used.contains(entity.name) {
            log.warning(entity.location, "nothing depends on entity \(entity.name), so its events invalidate no cached key.")
        }
    }
}
