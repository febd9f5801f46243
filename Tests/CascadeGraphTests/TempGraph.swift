import CascadeGraph
import CascadeTestSupport

/// A graph directory written to a fresh temporary folder, as a user would have it on disk.
typealias TempGraph = TempDirectory

extension TempDirectory {
    func load() throws -> GraphLoadResult { try GraphLoader.load(directory: directory) }
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
