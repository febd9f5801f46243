/// One service file as written, before names are resolved across files.
struct ServiceDraft {
    var name: String
    var tier: Tier
    var entities: [EntityDraft] = []
    var families: [FamilyDraft] = []
    var file: String
    var location: SourceLocation
}

struct EntityDraft {
    var name: String
    var attributes: [String] = []
    var policy: ConflictPolicy?
    var location: SourceLocation
}

struct FamilyDraft {
    var name: String
    var template: KeyTemplate?
    var ttlMillis: Int64?
    var adaptiveTTL: AdaptiveTTL?
    var tier: Tier?
    var dependencies: [DependencyDraft] = []
    var location: SourceLocation
}

struct DependencyDraft {
    enum Target {
        case entity(String)
        /// `service/family`, or a bare family with `service` nil meaning the same service.
        case cache(service: String?, family: String)
    }

    struct Binding {
        var parameter: String
        var source: String
        var location: SourceLocation
    }

    var target: Target
    /// nil for `via: tags`.
    var bindings: [Binding]?
    var location: SourceLocation
}
