import Yams

/// Reads one `graph/<service>.yaml` into a draft, reporting every problem it can see inside
/// the file. Cross-file checks (unknown entity, owner twice) are `GraphValidator`'s job.
struct ServiceFileParser {
    private var reading: YAMLReading

    init(file: String) {
        reading = YAMLReading(file: file)
    }

    static let serviceFields = ["service", "tier", "owns", "caches", "description"]
    static let entityFields = ["attrs", "conflict", "description"]
    static let familyFields = ["key", "ttl", "tier", "depends_on", "description"]
    static let dependencyFields = ["entity", "cache", "bind", "via"]

    /// Parses the text; returns the draft (nil when the file is unusable) and its diagnostics.
    static func parse(_ text: String, file: String) -> (ServiceDraft?, [Diagnostic]) {
        var parser = ServiceFileParser(file: file)
        if let location = Self.explicitKey(in: text, file: file) {
            parser.reading.log.error(
                location, "a '?' mapping key (a complex key) is not part of a service file; write each field as 'name: value'.")
            return (nil, parser.reading.log.items)
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            parser.reading.log.error(Self.location(of: error, file: file), Self.sentence(for: error))
            return (nil, parser.reading.log.items)
        } catch {
            parser.reading.log.error(SourceLocation(file: file), "the file could not be read as YAML.")
            return (nil, parser.reading.log.items)
        }
        guard let root else {
            parser.reading.log.error(SourceLocation(file: file), "the file is empty; a service file needs at least 'service' and 'tier'.")
            return (nil, parser.reading.log.items)
        }
        let draft = parser.service(root)
        return (draft, parser.reading.log.items)
    }

    /// Where the first explicit mapping key (`? key`) starts, at the start of a line after its
    /// indentation and any `- `. Service files never need one, and Yams' duplicate-key check
    /// compares such keys structurally: a fuzzed file of 2.5 KB of nested ones took 10 s to load.
    static func explicitKey(in text: String, file: String) -> SourceLocation? {
        let blank: Set<UInt8> = [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r")]
        for (number, line) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            var rest = line[...]
            // Indentation and `- ` entries, then what the line's node starts with.
            while let first = rest.first {
                let indicator = rest.dropFirst().first.map(blank.contains) ?? true
                if blank.contains(first) || (first == UInt8(ascii: "-") && indicator) {
                    rest = rest.dropFirst()
                } else {
                    if first == UInt8(ascii: "?") && indicator {
                        return SourceLocation(file: file, line: number + 1, column: line.distance(from: line.startIndex, to: rest.startIndex) + 1)
                    }
                    break
                }
            }
        }
        return nil
    }

    private mutating func service(_ root: Node) -> ServiceDraft? {
        guard let fields = reading.fields(root, "a service file", allowed: Self.serviceFields) else { return nil }
        var name: String?
        var tier: Tier?
        var tierSeen = false
        var owns: Node?
        var caches: Node?
        for (field, _, value) in fields {
            switch field {
            case "service": name = reading.string(value, "'service'")
            case "tier":
                tierSeen = true
                guard let text = reading.string(value, "'tier'") else { break }
                tier = Tier(rawValue: text)
                if tier == nil {
                    reading.error(value, "tier '\(text)' is not one of \(Tier.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
            case "owns": owns = value
            case "caches": caches = value
            default: break
            }
        }
        if fields.first(where: { $0.name == "service" }) == nil {
            reading.error(root, "the file has no 'service' field naming the service it describes.")
        }
        if !tierSeen {
            reading.error(root, "the file has no 'tier' field; use one of \(Tier.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        var draft = ServiceDraft(
            name: name ?? "", tier: tier ?? .standard, file: reading.file, location: reading.location(root))
        if let owns { draft.entities = entities(owns) }
        if let caches { draft.families = families(caches) }
        return name == nil ? nil : draft
    }

    private mutating func entities(_ node: Node) -> [EntityDraft] {
        if case .sequence(let items) = node {
            return items.compactMap { item in
                if case .mapping(let single) = item, single.count == 1, let (key, value) = single.first {
                    return entityName(key).map { entity($0, value, at: key) }
                }
                return reading.string(item, "each entry of 'owns'").flatMap { _ in entityName(item) }
                    .map { EntityDraft(name: $0, location: reading.location(item)) }
            }
        }
        guard let entries = reading.namedEntries(node, "'owns'") else { return [] }
        return entries.compactMap { name, key, value in entityName(key).map { _ in entity(name, value, at: key) } }
    }

    private mutating func entityName(_ node: Node) -> String? {
        guard let name = reading.string(node, "an entity name") else { return nil }
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            reading.error(node, "entity name '\(name)' may hold only letters, digits and '_' (it is written Entity#id on the wire).")
            return nil
        }
        return name
    }

    private mutating func entity(_ name: String, _ node: Node, at key: Node) -> EntityDraft {
        var draft = EntityDraft(name: name, location: reading.location(key))
        if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" {
            return draft
        }
        for (field, _, value) in reading.fields(node, "entity \(name)", allowed: Self.entityFields) ?? [] {
            switch field {
            case "attrs": draft.attributes = reading.stringList(value, "'attrs' of \(name)").map(\.0)
            case "conflict": draft.policy = policy(value, entity: name)
            default: break
            }
        }
        return draft
    }

    private mutating func policy(_ node: Node, entity: String) -> ConflictPolicy? {
        if let text = reading.scalarText(node) {
            switch text {
            case "highest-version": return .highestVersion
            case "last-writer-wins": return .lastWriterWins
            default:
                reading.error(node, "conflict policy '\(text)' of \(entity) is not highest-version, last-writer-wins or {origin-priority: [service, ...]}.")
                return nil
            }
        }
        guard let fields = reading.fields(node, "the conflict policy of \(entity)", allowed: ["origin-priority"]),
              let list = fields.first?.value
        else { return nil }
        let origins = reading.stringList(list, "'origin-priority' of \(entity)").map(\.0)
        guard !origins.isEmpty else {
            reading.error(list, "'origin-priority' of \(entity) must name at least one origin service.")
            return nil
        }
        return .originPriority(origins)
    }

    private mutating func families(_ node: Node) -> [FamilyDraft] {
        guard let entries = reading.namedEntries(node, "'caches'") else { return [] }
        return entries.map { name, key, value in family(name, value, at: key) }
    }

    private mutating func family(_ name: String, _ node: Node, at keyNode: Node) -> FamilyDraft {
        var draft = FamilyDraft(name: name, location: reading.location(keyNode))
        if name.contains("/") {
            reading.error(keyNode, "family name '\(name)' must not contain '/', which separates service and family.")
        }
        guard let fields = reading.fields(node, "cache family \(name)", allowed: Self.familyFields) else { return draft }
        for (field, _, value) in fields {
            switch field {
            case "key":
                guard let text = reading.string(value, "'key' of \(name)") else { break }
                do {
                    draft.template = try KeyTemplate(parsing: text)
                } catch {
                    reading.error(value, "key template '\(text)' of \(name) \(error).")
                }
            case "ttl":
                if reading.scalarText(value) == nil {
                    draft.adaptiveTTL = adaptiveTTL(value, of: name)
                    break
                }
                guard let text = reading.string(value, "'ttl' of \(name)") else { break }
                if text == "adaptive" {
                    draft.adaptiveTTL = AdaptiveTTL()
                    break
                }
                draft.ttlMillis = TTLDuration.milliseconds(text)
                if draft.ttlMillis == nil {
                    reading.error(
                        value, "ttl '\(text)' of \(name) is not a duration such as 30s, 10m, 1h, 2d or 1h30m, nor 'adaptive'.")
                }
            case "tier":
                guard let text = reading.string(value, "'tier' of \(name)") else { break }
                draft.tier = Tier(rawValue: text)
                if draft.tier == nil {
                    reading.error(value, "tier '\(text)' of \(name) is not one of \(Tier.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
            case "depends_on":
                guard let items = reading.sequence(value, "'depends_on' of \(name)") else { break }
                draft.dependencies = items.compactMap { dependency($0, of: name) }
            default: break
            }
        }
        if fields.first(where: { $0.name == "key" }) == nil {
            reading.error(keyNode, "cache family \(name) has no 'key' template.")
        }
        return draft
    }

    /// `ttl: {adaptive: {min: 30s, max: 6h}}` (either bound may be left out; `ttl: adaptive`
    /// takes both from the tier).
    private mutating func adaptiveTTL(_ node: Node, of name: String) -> AdaptiveTTL? {
        guard let fields = reading.fields(node, "'ttl' of \(name)", allowed: ["adaptive"]), let bounds = fields.first?.value else {
            return nil
        }
        var adaptive = AdaptiveTTL()
        if let text = reading.scalarText(bounds) {
            if text != "adaptive" && !text.isEmpty {
                reading.error(bounds, "'adaptive' of \(name) takes bounds such as {min: 30s, max: 6h}.")
            }
            return adaptive
        }
        for (field, _, value) in reading.fields(bounds, "'ttl: adaptive' of \(name)", allowed: ["min", "max"]) ?? [] {
            guard let text = reading.string(value, "'\(field)' of the adaptive ttl of \(name)") else { continue }
            guard let millis = TTLDuration.milliseconds(text) else {
                reading.error(value, "\(field) '\(text)' of the adaptive ttl of \(name) is not a duration such as 30s, 10m or 1h.")
                continue
            }
            if field == "min" { adaptive.minMillis = millis } else { adaptive.maxMillis = millis }
        }
        if let low = adaptive.minMillis, let high = adaptive.maxMillis, low > high {
            reading.error(bounds, "the adaptive ttl of \(name) has min \(TTLDuration.format(milliseconds: low)) above max \(TTLDuration.format(milliseconds: high)).")
        }
        return adaptive
    }

    private mutating func dependency(_ node: Node, of family: String) -> DependencyDraft? {
        let what = "a dependency of \(family)"
        guard let fields = reading.fields(node, what, allowed: Self.dependencyFields) else { return nil }
        var target: DependencyDraft.Target?
        var bindings: [DependencyDraft.Binding]?
        var viaTags = false
        for (field, _, value) in fields {
            switch field {
            case "entity":
                if let name = reading.string(value, "'entity' in \(what)") { target = .entity(name) }
            case "cache":
                guard let text = reading.string(value, "'cache' in \(what)") else { break }
                let parts = text.split(separator: "/", omittingEmptySubsequences: false)
                if parts.count == 1 {
                    target = .cache(service: nil, family: text)
                } else if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty {
                    target = .cache(service: String(parts[0]), family: String(parts[1]))
                } else {
                    reading.error(value, "'\(text)' is not a cache family; write service/family, or family for one of this service.")
                }
            case "bind":
                bindings = []
                if case .scalar(let scalar) = value, scalar.string == "{}" { break }
                for (parameter, key, source) in reading.namedEntries(value, "'bind' in \(what)") ?? [] {
                    guard let text = reading.string(source, "the binding of '\(parameter)'") else { continue }
                    bindings?.append(.init(parameter: parameter, source: text, location: reading.location(key)))
                }
            case "via":
                guard let text = reading.string(value, "'via' in \(what)") else { break }
                if text == "tags" { viaTags = true } else {
                    reading.error(value, "via '\(text)' is not supported; the only value is 'tags' (instance registrations).")
                }
            default: break
            }
        }
        let names = Set(fields.map(\.name))
        if names.contains("entity") && names.contains("cache") {
            reading.error(node, "\(what) names both an entity and a cache; split it into two dependencies.")
            return nil
        }
        if !names.contains("entity") && !names.contains("cache") {
            reading.error(node, "\(what) names neither an 'entity' nor a 'cache'.")
            return nil
        }
        if names.contains("bind") && names.contains("via") {
            reading.error(node, "\(what) has both 'bind' and 'via'; use bind when the key can be computed, via: tags when it cannot.")
        } else if !names.contains("bind") && !names.contains("via") {
            reading.error(node, "\(what) says neither how to find the dependent keys: add 'bind: {param: id}' or 'via: tags'.")
        }
        guard let target else { return nil }
        return DependencyDraft(target: target, bindings: viaTags ? nil : (bindings ?? []), location: reading.location(node))
    }

    static func location(of error: YamlError, file: String) -> SourceLocation {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return SourceLocation(file: file, line: mark.line, column: mark.column)
        case .duplicatedKeysInMapping(_, let context):
            return SourceLocation(file: file, line: context.mark.line, column: context.mark.column)
        default:
            return SourceLocation(file: file)
        }
    }

    /// Yams' problem in one plain sentence, without its code snippet.
    static func sentence(for error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _),
             .composer(let context, let problem, _, _):
            let while_ = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return "malformed YAML: \(problem)\(while_)."
        case .duplicatedKeysInMapping(let duplicates, _):
            let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return "duplicate key \(names) in one mapping (a family, entity or field is defined twice); each may appear once."
        case .reader(let problem, _, _, _):
            return "the file is not readable text: \(problem)."
        default:
            return "malformed YAML."
        }
    }
}
