import ArgumentParser
import CascadeBus
import CascadeGraph
import CascadeKafka
import CascadeCache
import CascadeNode
import CascadeRESP
import CascadeStore
import CascadeWire
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a cache node for one service: a Redis-protocol store kept correct by invalidations.",
        discussion: """
            Prints `cascade node <service> listening on HOST:PORT` on standard output once it \
            accepts connections (--port 0 picks a free port). Stops gracefully on SIGINT/SIGTERM.
            """
    )

    @Option(help: "The service whose keys this node caches.")
    var service: String

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 6379

    @Option(help: "Memory budget for keys and values, e.g. 512mb, 2gb, 1048576 (bytes). Unbounded when absent.")
    var maxMemory: String?

    @Option(help: "Password clients must give with AUTH or HELLO ... AUTH.")
    var requirepass: String?

    @Option(help: "Kafka bootstrap servers host:port,... (invalidations in, registrations out).")
    var kafka: String?

    @OptionGroup var kafkaProperties: KafkaPropertyOptions

    @Option(help: "Port of the Prometheus /metrics endpoint.")
    var metricsPort: Int?

    @Option(help: "Most client connections at once.")
    var maxClients: Int = 10_000

    @Option(help: "Event-loop threads serving clients (default: one per core).")
    var threads: Int = System.coreCount

    @Option(help: "Largest bulk string a client may send, in bytes.")
    var maxBulkLength: Int = 512 << 20

    @Option(help: "Most bytes of unfinished commands one client may buffer, e.g. 1gb (Redis's client-query-buffer-limit); past it the client is closed.")
    var clientQueryBufferLimit: String = "1gb"

    @Option(help: "Bounded staleness, e.g. 2s: reads miss while the invalidation stream is not confirmed current for that long.")
    var maxStaleness: String?

    @Option(help: "host:port other processes reach this node at (in its reports on cascade.nodes); default: where it listens.")
    var advertise: String?

    @Option(help: "A graph directory: keys are attributed to the service's families (INFO, /metrics), tiers order eviction, adaptive TTLs apply.")
    var graph: String?

    @Option(help: "Estimated recent reads from which an invalidated key is hot and gets a refresh hint on cascade.refresh.<service>.")
    var hotKeyMinHits: Int = 8

    @OptionGroup var tracing: TracingOptions

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard !service.isEmpty, !service.contains("/") else { throw ValidationError("--service must be a name without '/'") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        if let maxMemory, ByteSize.parse(maxMemory) == nil {
            throw ValidationError("--max-memory '\(maxMemory)' is not a size such as 512mb")
        }
        guard hotKeyMinHits >= 1 else { throw ValidationError("--hot-key-min-hits must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard maxClients >= 1 else { throw ValidationError("--max-clients must be at least 1") }
        guard ByteSize.parse(clientQueryBufferLimit) != nil else {
            throw ValidationError("--client-query-buffer-limit '\(clientQueryBufferLimit)' is not a size such as 1gb")
        }
        if let maxStaleness, (TTLDuration.milliseconds(maxStaleness) ?? 0) <= 0 {
            throw ValidationError("--max-staleness '\(maxStaleness)' is not a duration such as 2s or 500ms")
        }
    }

    func run() async throws {
        let logger = common.bootstrapLogging(label: "cascade.node")
        var store = StoreConfiguration()
        store.maxMemoryBytes = maxMemory.flatMap(ByteSize.parse)
        store.hotKeyMinHits = hotKeyMinHits
        let families = try graph.map { directory in
            let (cacheGraph, _) = try GraphOptions.load(directory: directory)
            guard let families = FamilyDirectory(graph: cacheGraph, service: self.service) else {
                throw ValidationError("the graph in \(directory) has no service '\(self.service)' (it has \(cacheGraph.serviceNames.joined(separator: ", ")))")
            }
            return families
        }
        var configuration = NodeConfiguration(
            service: service, host: host, port: port, store: store,
            maxStalenessMillis: maxStaleness.flatMap(TTLDuration.milliseconds), advertisedAddress: advertise,
            families: families)
        let telemetry = try tracing.make(serviceName: "cascade-node-\(service)", logger: logger)
        configuration.tracing = telemetry?.spans

        let registry = metricsPort.map { _ in MetricsEndpoint.bootstrap() }
        let kafkaConfiguration = try kafka.map {
            KafkaConfiguration(bootstrapServers: $0, properties: try kafkaProperties.parsed())
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let service = self.service
        let topics = Topics(prefix: common.topicPrefix)
        let runtime = try NodeRuntime(
            configuration: configuration,
            resp: RESPSettings(
                requirePass: requirepass, maxConnections: maxClients,
                limits: RESPLimits(maxBulkLength: maxBulkLength, maxQueryBuffer: ByteSize.parse(clientQueryBufferLimit) ?? 1 << 30)),
            kafka: kafkaConfiguration, topics: topics, group: group, logger: logger,
            onListening: { address in
                printLine("cascade node \(service) listening on \(address.ipAddress ?? "127.0.0.1"):\(address.port ?? 0)")
            },
            onReady: {
                printLine("cascade node \(service) ready (invalidations from \(topics.invalidations(service: service)))")
            })
        var nodeServices = (telemetry.map { [$0.service] } ?? []) + runtime.services
        if let registry, let metricsPort {
            nodeServices.append(MetricsEndpoint.application(
                registry: registry, host: host, port: metricsPort,
                auth: requirepass.map(BearerTokenMiddleware<BasicRequestContext>.init(token:)), logger: logger))
        }
        let services = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: nodeServices, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).bounded())
        try await services.run()
        try await group.shutdownGracefully()
    }
}
