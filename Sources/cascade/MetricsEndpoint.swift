import CascadeBus
import Hummingbird
import Logging
import Metrics
import Prometheus

/// The node's Prometheus endpoint (`--metrics-port`): swift-metrics is bootstrapped onto one
/// registry, served at /metrics.
enum MetricsEndpoint {
    /// Bootstraps swift-metrics; call before anything creates a metric.
    static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// With `token` (the node's --requirepass), /metrics needs `Authorization: Bearer <token>`.
    static func application(
        registry: PrometheusCollectorRegistry, host: String, port: Int, token: String? = nil, logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router()
        if let token { router.add(middleware: BearerTokenMiddleware(token: token)) }
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
