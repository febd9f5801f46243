import CascadeGraph
import Foundation

/// A graph directory written to a fresh temporary folder, as a user would have it on disk.
struct TempGraph {
    let directory: String

    init(_ files: [String: String]) throws {
        directory = NSTemporaryDirectory() + "cascade-graph-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
    }

    func path(_ name: String) -> String { directory + "/" + name }

    func load() throws -> GraphLoadResult { try GraphLoader.load(directory: directory) }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// A service file that owns `A` (attrs `color`) and caches `a:{aId}` bound to it; other
/// test files refer to it.
let ownerOfA = """
    service: owner
    tier: standard
    owns:
      A:
        attrs: [color]
        conflict: highest-version
    caches:
      a-card:
        key: "a:{aId}"
        ttl: 1m
        depends_on:
          - entity: A
            bind: {aId: id}

    """
