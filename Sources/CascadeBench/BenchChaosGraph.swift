import Foundation

/// The chaos bench's own graph: catalog owns Product; storefront builds pages on catalog's
/// products; catalog's `cyc-a` and storefront's `cyc-b` depend on each other (a cycle across
/// services). Every edge goes through registrations (`via: tags`), the path under test.
enum ChaosGraph {
    static let files: [String: String] = [
        "catalog.yaml": """
            service: catalog
            tier: standard
            owns:
              Product:
                conflict: highest-version
            caches:
              product:
                key: "product:{id}"
                depends_on:
                  - entity: Product
                    via: tags
              price:
                key: "price:{id}"
                depends_on:
                  - entity: Product
                    via: tags
              cyc-a:
                key: "a:{id}"
                depends_on:
                  - entity: Product
                    via: tags
                  - cache: storefront/cyc-b
                    via: tags

            """,
        "storefront.yaml": """
            service: storefront
            tier: standard
            caches:
              page:
                key: "page:{id}"
                depends_on:
                  - cache: catalog/product
                    via: tags
              cyc-b:
                key: "b:{id}"
                depends_on:
                  - cache: catalog/cyc-a
                    via: tags

            """,
    ]

    /// Writes the graph into `directory`.
    static func write(into directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
    }
}
