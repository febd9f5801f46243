import Hummingbird
import Logging
import Metrics
import Prometheus

/// The Prometheus endpoint of a node or a gateway (`--metrics-port`): swift-metrics is
/// bootstrapped onto one registry, served at /metrics, with /healthz beside it.
public enum MetricsEndpoint {
    /// Bootstraps swift-metrics; call before anything creates a metric.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// `auth` guards every path (a node with --requirepass is given the bus's bearer-token
    /// middleware by its wiring, so /metrics needs `Authorization: Bearer <password>`).
    public static func application(
        registry: PrometheusCollectorRegistry, host: String, port: Int,
        auth: (any MiddlewareProtocol<Request, Response, BasicRequestContext>)? = nil, logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router()
        if let auth { router.add(middleware: auth) }
        router.get("/metrics") { _, _ in
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/healthz") { _, _ in "ok\n" }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "cascade-node"), logger: logger)
    }
}
