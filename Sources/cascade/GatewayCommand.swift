import ArgumentParser
import CascadeGateway
import CascadeGraph
import CascadeKafka
import CascadeCache
import CascadeStore
import CascadeWire
import Foundation
import Logging
import ServiceLifecycle

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Run a read-through HTTP cache in front of one upstream, invalidated by the bus like a node.",
        discussion: """
            Caches GET and HEAD responses by method, URL and Vary as a shared cache does \
            (Cache-Control, Age, ETag / If-None-Match), answers with X-Cache: HIT, MISS or STALE, \
            and registers each response's Surrogate-Key (or Cache-Tag) dependencies on the deps \
            topic under --service, whose invalidation topic it consumes. Prints \
            `cascade gateway ready http://HOST:PORT` once it serves (--port 0 picks a free port).
            """
    )

    @Option(help: "The upstream's base URL, e.g. http://127.0.0.1:9000.")
    var upstream: String

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 8088

    @Option(help: "The service name the gateway registers dependencies under and takes invalidations for.")
    var service: String = "api-gateway"

    @Option(help: "Kafka bootstrap servers host:port,... (invalidations in, registrations out); without it, a plain HTTP cache.")
    var kafka: String?

    @OptionGroup var kafkaProperties: KafkaPropertyOptions

    @Option(help: "Memory budget for cached responses, e.g. 256mb. Unbounded when absent.")
    var maxMemory: String?

    @Option(help: "TTL of responses that say nothing about freshness (only statuses cacheable by default), e.g. 30s; 0 keeps none.")
    var defaultTTL: String = "0"

    @Option(help: "Graph directory: a service file named like --service gives route families (key \"GET /products/{id}\") whose ttl is their default TTL.")
    var graph: String?

    @Option(help: "Port of the Prometheus /metrics and /healthz endpoint.")
    var metricsPort: Int?

    @OptionGroup var tracing: TracingOptions

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard let url = URL(string: upstream), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw ValidationError("--upstream '\(upstream)' is not an http:// or https:// URL")
        }
        guard !service.isEmpty, !service.contains("/") else { throw ValidationError("--service must be a name without '/'") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        if let maxMemory, ByteSize.parse(maxMemory) == nil {
            throw ValidationError("--max-memory '\(maxMemory)' is not a size such as 256mb")
        }
        guard defaultTTL == "0" || (TTLDuration.milliseconds(defaultTTL) ?? 0) > 0 else {
            throw ValidationError("--default-ttl '\(defaultTTL)' is not a duration such as 30s")
        }
    }

    func run() async throws {
        let logger = common.bootstrapLogging(label: "cascade.gateway")
        let registry = metricsPort.map { _ in MetricsEndpoint.bootstrap() }
        let kafkaConfiguration = try kafka.map {
            KafkaConfiguration(bootstrapServers: $0, properties: try kafkaProperties.parsed())
        }
        let topics = Topics(prefix: common.topicPrefix)
        if let kafkaConfiguration {
            await GatewayRuntime.createTopic(kafka: kafkaConfiguration, topics: topics, service: service, partitions: 6, logger: logger)
        }
        var configuration = gatewayConfiguration
        let telemetry = try tracing.make(serviceName: "cascade-gateway", logger: logger)
        configuration.tracing = telemetry?.spans
        if let graph {
            let (cacheGraph, _) = try GraphOptions.load(directory: graph)
            let routes = configuration.useRouteFamilies(of: cacheGraph, service: service)
            logger.info("route families from the graph", metadata: ["routes": "\(routes)"])
        }
        var node = nodeConfiguration
        node.tracing = telemetry?.spans
        let runtime = try GatewayRuntime(
            configuration: configuration, node: node, kafka: kafkaConfiguration, topics: topics,
            logger: logger
        ) { url in printLine("cascade gateway ready \(url)") }
        var services = (telemetry.map { [$0.service] } ?? []) + runtime.services
        if let registry, let metricsPort {
            services.append(MetricsEndpoint.application(registry: registry, host: host, port: metricsPort, logger: logger))
        }
        try await ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).bounded()).run()
    }

    var gatewayConfiguration: GatewayConfiguration {
        GatewayConfiguration(
            upstream: upstream, host: host, port: port, defaultTTLSeconds: (TTLDuration.milliseconds(defaultTTL) ?? 0) / 1000)
    }

    var nodeConfiguration: NodeConfiguration {
        var store = StoreConfiguration()
        store.maxMemoryBytes = maxMemory.flatMap(ByteSize.parse)
        return NodeConfiguration(service: service, host: host, port: port, store: store)
    }
}
