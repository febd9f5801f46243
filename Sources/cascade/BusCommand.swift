import ArgumentParser
import CascadeBus
import CascadeClient
import CascadeGraph
import CascadeKafka
import CascadeWire
import Foundation
import Logging
import ServiceLifecycle

struct BusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus", abstract: "Run the invalidation bus: events in, cascades out.",
        discussion: """
            Consumes its share of the events topic's partitions, resolves each event through the \
            graph and the instance index, and sends one invalidation message per affected \
            service. Instances find each other by their beacons on cascade.buses and share the \
            partitions among those alive: a killed instance's partitions move within a second. Prints \
            `cascade bus ready admin=http://HOST:PORT` once the admin API listens (--admin-port 0 \
            picks a free port); /readyz turns 200 once the index and the ledger are rebuilt.
            """)

    @Option(help: "Directory of the graph's YAML files.")
    var graph: String = "graph"

    @Option(help: "Kafka bootstrap servers host:port,...")
    var kafka: String

    @OptionGroup var kafkaProperties: KafkaPropertyOptions

    @Option(help: "Consumer group whose offsets the bus instances share.")
    var group: String = "cascade-bus"

    @Option(help: "This instance's name among the bus instances, stable across its restarts (default: the host name and a random suffix).")
    var instance: String?

    @Option(help: "Port of the admin API; 0 picks a free one.")
    var adminPort: Int = 8480

    @Option(help: "Address of the admin API.")
    var adminHost: String = "127.0.0.1"

    @Option(help: "Bearer token the admin API requires (health probes stay open).")
    var adminToken: String?

    @Option(help: "Partitions of topics the bus creates.")
    var partitions: Int = 6

    @Option(help: "Replicas of each topic the bus creates (default: the broker's default.replication.factor); min.insync.replicas is one less.")
    var replicationFactor: Int?

    @Option(help: "Milliseconds: a registration without a version whose dependency changed this close before the key was set is invalidated at once.")
    var raceWindowMs: Int64 = 2000

    @Option(help: "Milliseconds a key whose value went while nothing depended on it keeps its edges, so that a value computed from it just before, registering later, is still reached through it (0: none). Cover the race window and how late registrations land.")
    var goneKeyGraceMs: Int64 = 30_000

    @Option(help: "Milliseconds without a beacon after which another bus instance counts as gone and its partitions are taken over (failover takes this plus a beacon round).")
    var deadAfterMs: Int64 = 500

    @Option(help: "Tasks resolving events at once, each owning whole partitions (default: one per core but one).")
    var workers: Int?

    @Option(help: "Producer connections, each writing topics of its own: about 4 on a network broker (one request per partition batch, one in flight per connection); 1 on the embedded one.")
    var producerLanes: Int = 1

    @Option(help: "Milliseconds: events for different instances from different origins, with `at` times this close, reaching a common key of a circular component are a conflict; 0 turns the check off.")
    var cycleConflictWindowMs: Int64 = 1000

    @Option(name: .customLong("source"), help: ArgumentHelp(
        "Another topic to consume into the pipeline, KIND:TOPIC[=Entity][,id=FIELD] (repeatable): debezium:TOPIC=Entity[,id=FIELD], cloudevents:TOPIC[=Entity], json:TOPIC.",
        valueName: "source"))
    var sources: [String] = []

    @Option(help: "Mebibytes the bus keeps of its recent cascades for `cascade why` (the oldest are forgotten past it); 0 keeps none.")
    var whyMemoryMb: Int = CascadeMemory.defaultMaxBytes >> 20

    @Flag(help: "Each instance holds the index and the ledger of the partitions it owns only, and cascades cross instances as hops on cascade.hops (docs/bus.md, \"State by partition\"). Every instance of a system must agree.")
    var partitionedState = false

    @OptionGroup var tracing: TracingOptions

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        guard (1...16).contains(producerLanes) else { throw ValidationError("--producer-lanes must be from 1 to 16") }
        guard (0...65535).contains(adminPort) else { throw ValidationError("--admin-port must be between 0 and 65535") }
        guard partitions >= 1 else { throw ValidationError("--partitions must be at least 1") }
        if let replicationFactor, replicationFactor < 1 { throw ValidationError("--replication-factor must be at least 1") }
        guard deadAfterMs >= 200 else { throw ValidationError("--dead-after-ms must be at least 200 (two beacon rounds)") }
        guard goneKeyGraceMs >= 0 else { throw ValidationError("--gone-key-grace-ms must be 0 or more") }
        guard cycleConflictWindowMs >= 0 else { throw ValidationError("--cycle-conflict-window-ms must be 0 or more") }
        guard (0...65536).contains(whyMemoryMb) else { throw ValidationError("--why-memory-mb must be from 0 to 65536") }
        _ = try kafkaProperties.parsed()
        _ = try SourceOptions.parse(sources)
        if partitionedState && !sources.isEmpty {
            throw ValidationError("--source is not supported with --partitioned-state yet: a source topic's partitions are not the state's")
        }
    }

    func run() async throws {
        let logger = common.bootstrapLogging(label: "cascade.bus")
        let (cacheGraph, _) = try GraphOptions.load(directory: graph)
        var configuration = BusConfiguration(
            kafka: KafkaConfiguration(bootstrapServers: kafka, properties: try kafkaProperties.parsed()),
            topics: Topics(prefix: common.topicPrefix), groupID: group, partitions: partitions, raceWindowMillis: raceWindowMs,
            cycleConflictWindowMillis: cycleConflictWindowMs)
        if let workers { configuration.workers = workers }
        configuration.producerLanes = producerLanes
        configuration.instance = instance
        configuration.deadAfterMillis = deadAfterMs
        configuration.goneKeyGraceMillis = goneKeyGraceMs
        configuration.cascadeMemoryBytes = whyMemoryMb << 20
        configuration.replicationFactor = replicationFactor
        configuration.sources = try SourceOptions.checked(SourceOptions.parse(sources), graph: cacheGraph)
        configuration.partitionedState = partitionedState
        let telemetry = try tracing.make(serviceName: "cascade-bus", logger: logger)
        configuration.tracing = telemetry?.spans
        let bus = try BusService(configuration: configuration, graph: cacheGraph, logger: logger)
        // The ready line comes once the admin API listens and the state is rebuilt.
        var adminSource = AdminContextSource(bus: bus, token: adminToken)
        adminSource.fetch = { url, token in try await HTTPGet.fetch(url, token: token, timeout: 2) }
        let admin = buildApplication(adminSource, host: adminHost, port: adminPort, logger: logger) { host, port in
            bus.setAdminURL("http://\(host):\(port)")
            Task {
                await bus.awaitReady()
                if bus.isReady { printLine("cascade bus ready admin=http://\(host):\(port)") }
            }
        }
        // Shutdown runs in reverse: the admin API stops first, the bus drains and flushes last.
        let services = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: (telemetry.map { [$0.service] } ?? []) + [bus, admin], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).bounded())
        try await services.run()
    }
}

/// `--source` values of `cascade bus` and `cascade dev`.
enum SourceOptions {
    static func parse(_ values: [String]) throws -> [SourceSpec] {
        var specs: [SourceSpec] = []
        for value in values {
            do throws(SourceSpecError) {
                specs.append(try SourceSpec.parse(value))
            } catch {
                throw ValidationError(error.description)
            }
        }
        var seen: Set<String> = []
        for spec in specs where !seen.insert(spec.topic).inserted {
            throw ValidationError("topic '\(spec.topic)' is named by two --source options")
        }
        return specs
    }

    /// Debezium entities must be in the graph (CloudEvents' default entity too).
    static func checked(_ specs: [SourceSpec], graph: CacheGraph) throws -> [SourceSpec] {
        for spec in specs {
            if let entity = spec.entity, graph.entities[entity] == nil {
                throw CLIError("--source \(spec): entity '\(entity)' is not in the graph (known: \(graph.entityNames.joined(separator: ", ")))")
            }
        }
        return specs
    }
}
