import CascadeGraph
import CascadeWire
import Foundation

/// `/impact` with partitioned state: the whole system's closure of a change, from any instance.
/// Each share knows the keys it reaches and which of them have dependents in partitions it does
/// not hold (the keys it would hand on as hops). The instance asked gathers the parts as the
/// cascade would: from the share holding the entity's partition, then from the holder of each
/// key handed on (`/impact?key=…&local=1`), each key once, so cycles end. Nothing is
/// remembered: unlike a hop, asking changes no share.
struct SystemImpact {
    let source: AdminContextSource
    let share: IndexShare
    /// Parts asked of other instances, at most: a guard against a closure that is the whole system.
    static let maxParts = 1_000

    /// This share's part of a change to `ref`, with the keys it hands on.
    func part(of ref: EntityRef, attrs: [String: String]) -> ImpactReport {
        part(share.index.closure(of: ref, attrs: attrs))
    }

    /// This share's part below a key handed on to it.
    func part(ofKey name: String) -> ImpactReport? {
        CacheKeyRef(parsing: name).map { part(share.index.closure(ofKey: $0)) }
    }

    private func part(_ closure: InstanceClosure) -> ImpactReport {
        var report = ImpactReport(closure)
        report.handOn = share.namesToHandOn(closure)
        return report
    }

    /// The closure of a change to `ref` across every share.
    func report(of ref: EntityRef, attrs: [String: String]) async -> ImpactReport {
        var merged: ImpactReport
        let query = (["ref=" + Self.encode(ref.description)] + attrs.map { "attrs.\(Self.encode($0.key))=\(Self.encode($0.value))" })
            .joined(separator: "&")
        if let holder = source.holder?(ref.description) {
            if let fetched = await ask(holder, query: query) {
                merged = fetched
            } else {
                merged = part(of: ref, attrs: attrs)
                merged.unresolved.append("\(ref): the instance holding its partition (\(holder)) did not answer; this instance's part only")
            }
        } else {
            merged = part(of: ref, attrs: attrs)
        }
        var positions = Dictionary(merged.keys.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        var queue = merged.handOn ?? []
        var expanded = Set<String>()
        merged.handOn = nil
        var asked = 0
        while let name = queue.popLast() {
            guard expanded.insert(name).inserted else { continue }
            let base = positions[name].map { merged.keys[$0] }
            let part: ImpactReport?
            if let holder = source.holder?(name) {
                guard asked < Self.maxParts else {
                    merged.unresolved.append("\(name): not followed, more than \(Self.maxParts) parts asked")
                    continue
                }
                asked += 1
                part = await ask(holder, query: "key=\(Self.encode(name))")
                if part == nil { merged.unresolved.append("\(name): the instance holding its dependents (\(holder)) did not answer") }
            } else {
                part = self.part(ofKey: name)
            }
            guard let part else { continue }
            for var key in part.keys where positions[key.name] == nil {
                key.depth += base?.depth ?? 0
                key.path = (base?.path ?? [name]) + key.path.dropFirst()
                positions[key.name] = merged.keys.count
                merged.keys.append(key)
            }
            merged.unresolved += part.unresolved
            queue += part.handOn ?? []
        }
        merged.byService = Dictionary(grouping: merged.keys, by: \.service).mapValues(\.count)
        return merged
    }

    private func ask(_ admin: String, query: String) async -> ImpactReport? {
        guard let fetch = source.fetch,
              let answer = try? await fetch(admin + "/impact?" + query + "&local=1", source.token), answer.status == 200
        else { return nil }
        return try? JSONDecoder().decode(ImpactReport.self, from: Data(answer.body))
    }

    private static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~:/"))) ?? text
    }
}
