import CascadeGraph

extension GatewayConfiguration {
    /// Route families from the graph: when the graph has a service file for the gateway's
    /// service, each cache family's key template is a route (`"GET /products/{productId}"`)
    /// and its `ttl` the default TTL of responses on it that say nothing about freshness. The
    /// same families' bindings let the bus invalidate those keys by template, with no
    /// registration. Returns how many routes have a TTL.
    @discardableResult
    public mutating func useRouteFamilies(of graph: CacheGraph, service: String) -> Int {
        guard let owner = graph.services[service] else { return 0 }
        let routes = owner.families.compactMap { graph.families[FamilyID(service: service, name: $0)] }.filter { $0.ttlMillis != nil }
        guard !routes.isEmpty else { return 0 }
        routeTTLSeconds = { key in
            graph.family(ofKey: Substring(key), service: service).flatMap { graph.families[$0.0]?.ttlMillis }.map { max(1, $0 / 1000) }
        }
        return routes.count
    }
}
