import CascadeTracing

/// Everything `cascade gateway` is told on its command line, beyond the node's own settings.
public struct GatewayConfiguration: Sendable {
    /// The upstream's base URL, e.g. `http://127.0.0.1:9000`.
    public var upstream: String
    public var host: String
    /// 0 picks a free port.
    public var port: Int
    /// Seconds a response without `max-age` / `s-maxage` is kept (only statuses that may be
    /// cached by default); 0 keeps none.
    public var defaultTTLSeconds: Int64
    /// Per-route default TTL in seconds for a key `METHOD path?query` (a route family of the
    /// graph, see `useRouteFamilies`); nil: `defaultTTLSeconds`.
    public var routeTTLSeconds: (@Sendable (String) -> Int64?)?
    /// Largest body kept; larger responses pass through.
    public var maxEntryBytes: Int
    /// Largest request body forwarded.
    public var maxRequestBytes: Int
    /// A span per upstream fetch, continuing the request's `traceparent` (`--otlp-endpoint`); nil: off.
    public var tracing: SpanStarter?

    public init(
        upstream: String, host: String = "127.0.0.1", port: Int = 8088, defaultTTLSeconds: Int64 = 0,
        maxEntryBytes: Int = 8 * 1024 * 1024, maxRequestBytes: Int = 8 * 1024 * 1024
    ) {
        self.upstream = upstream
        self.host = host
        self.port = port
        self.defaultTTLSeconds = defaultTTLSeconds
        self.maxEntryBytes = maxEntryBytes
        self.maxRequestBytes = maxRequestBytes
    }
}
