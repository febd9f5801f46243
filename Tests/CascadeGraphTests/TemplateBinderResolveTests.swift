@testable import CascadeGraph
import Testing

@Suite("The binder resolves interned names to the family the graph's own lookup picks")
struct TemplateBinderResolveTests {
    @Test func everyKeyShapeResolvesAsTheGraphDoes() throws {
        let graph = try ExampleGraphTests.load()
        let binder = TemplateBinder(graph)
        var keys: [(service: String, key: String)] = []
        let fills = ["1", "p-7", "u:9", "a-b-c", ""]
        for family in graph.families.values {
            for fill in fills {
                let key = family.template.segments.map { segment -> String in
                    switch segment {
                    case .literal(let text): return text
                    case .parameter: return fill
                    }
                }.joined()
                keys.append((family.id.service, key))
                keys.append((family.id.service, key + ":extra"))
                keys.append((family.id.service, String(key.dropLast())))
            }
        }
        keys.append(("no-such-service", "order:1:summary"))
        keys.append(("order-service", "ünïcode:1"))
        for (service, key) in keys {
            var name = service + "/" + key
            let resolved = name.withUTF8 { binder.resolve(name: $0) }
            let expected = graph.family(ofKey: key[...], service: service)
            #expect(binder.family(number: resolved.number) == expected?.0, "\(name)")
            if let (family, values) = expected, binder.hasFamilyRules(number: resolved.number) {
                let found = name.withUTF8 { binder.values(of: resolved, name: $0) }
                #expect(found == values, "\(family) \(name)")
            }
        }
    }
}
