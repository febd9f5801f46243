import CascadeWire
import Testing

@testable import CascadeStore

@Suite("Invalidations skip the shard sweep only for tags no shard indexes")
struct TagPresenceTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func invalidation(_ tags: [String]) -> InvalidationMessage {
        InvalidationMessage(
            kind: .invalidate, cause: .init(eventID: "e", entity: "X", id: "1", version: 1, atMillis: 0), keys: [], tags: tags, fences: [])
    }

    private func held(_ store: CacheStore, _ tag: String) -> Bool { store.tagPresence.mayHold(hash: TagPresence.hash(tag)) }

    @Test func presenceFollowsEntriesLeasesAndInvalidations() throws {
        let store = CacheStore()
        #expect(!held(store, "P#1"))
        store.set(bytes("a"), bytes("v"), dependencies: [try Dependency.parse("P#1", service: "s")])
        store.set(bytes("b"), bytes("v"), dependencies: [try Dependency.parse("P#1", service: "s")])
        #expect(held(store, "P#1"))
        _ = store.delete(bytes("a"))
        #expect(held(store, "P#1"), "b still carries it")
        // Overwritten without the tag: nothing carries it any more.
        store.set(bytes("b"), bytes("v2"))
        #expect(!held(store, "P#1"))
        // A lease names it, then an invalidation voids the lease.
        _ = store.leaseGet(bytes("c"), dependencies: [try Dependency.parse("P#2", service: "s")])
        #expect(held(store, "P#2"))
        #expect(store.apply(invalidation(["P#2"])).leasesVoided == 1)
        #expect(!held(store, "P#2"))
        store.set(bytes("d"), bytes("v"), dependencies: [try Dependency.parse("P#3", service: "s")])
        store.removeAll()
        #expect(!held(store, "P#3"))
    }

    /// Random churn over a few keys and tags, against a model of which key carries which tag:
    /// every invalidation removes exactly the keys carrying its tag, and a tag the filter calls
    /// absent is carried by no key.
    @Test func randomChurnLosesNoTaggedKey() throws {
        let store = CacheStore(StoreConfiguration(shardCount: 8))
        var model: [String: Set<String>] = [:]
        var random = SystemRandomNumberGenerator()
        let tags = (0..<6).map { "T#\($0)" }
        for _ in 0..<5_000 {
            let key = "k\(Int.random(in: 0..<20, using: &random))"
            switch Int.random(in: 0..<4, using: &random) {
            case 0, 1:
                let chosen = Set(tags.filter { _ in Bool.random(using: &random) })
                store.set(bytes(key), bytes("v"), dependencies: try chosen.sorted().map { try Dependency.parse($0, service: "s") })
                model[key] = chosen
            case 2:
                _ = store.delete(bytes(key))
                model[key] = nil
            default:
                let tag = tags.randomElement(using: &random)!
                let carrying = Set(model.filter { $0.value.contains(tag) }.keys)
                #expect(store.apply(invalidation([tag])).keysRemoved == carrying.count)
                for key in carrying { model[key] = nil }
            }
            for tag in tags where !held(store, tag) {
                #expect(!model.values.contains { $0.contains(tag) }, "\(tag) is carried but the filter says absent")
            }
        }
    }
}
