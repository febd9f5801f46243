import ArgumentParser
import CascadeCheck
import CascadeClient
import CascadeKafka
import CascadeWatch
import CascadeWire
import Foundation
import Logging
import ServiceLifecycle

/// The flags of `cascade check --watch`.
struct CheckWatchOptions: ParsableArguments {
    @Flag(help: "Run as a service: check a sample of invalidated keys on their nodes, continuously (see docs/consistency.md).")
    var watch = false

    @Option(help: "Share of invalidated keys checked (0 to 1), chosen by a hash of the key: a key is always or never checked.")
    var sample: Double = 0.01

    @Option(help: "Port of the watcher's Prometheus /metrics.")
    var metricsPort: Int = 9470

    @Option(help: "Milliseconds after an invalidation before its keys are checked: the race window (the bus's --race-window-ms).")
    var windowMs: Int = 2000

    @Option(help: "Kafka bootstrap servers host:port,... (default: the status file's).")
    var kafka: String?

    @OptionGroup var kafkaProperties: KafkaPropertyOptions

    @Option(name: .customLong("service"), help: "A service whose invalidations are followed (repeatable; default: every <prefix>inval.* topic).")
    var services: [String] = []

    @Option(help: "Prefix of Cascade's topic names (default: the status file's, else cascade.).")
    var topicPrefix: String?

    @Option(help: "Sampled keys waiting for their window, at most; more are counted as unchecked.")
    var maxPending: Int = 100_000

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard sample.isFinite, (0...1).contains(sample) else { throw ValidationError("--sample must be between 0 and 1, e.g. 0.01") }
        guard (0...65535).contains(metricsPort) else { throw ValidationError("--metrics-port must be between 0 and 65535") }
        guard windowMs >= 0 else { throw ValidationError("--window-ms must not be negative") }
        guard maxPending >= 1 else { throw ValidationError("--max-pending must be at least 1") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is not a log level") }
    }
}

extension CheckCommand {
    /// `cascade check --watch`: runs until SIGINT or SIGTERM.
    func runWatch() async throws {
        let logger = try CommonOptions.parse(["--log-level", watch.logLevel]).bootstrapLogging(label: "cascade.watch")
        let status = try statusFile.map(StatusFile.read)
        guard let bootstrap = watch.kafka ?? status?.kafka else { throw CLIError("no broker to follow: give --kafka or --status-file") }
        var flags = CheckTargets(admin: admin, adminToken: adminToken, requirepass: requirepass)
        for node in nodes {
            let parsed = try CheckTargets.parseNode(node)
            flags.nodes[parsed.service] = parsed.address
        }
        var targets = CheckTargets()
        if let status { targets = CheckTargets(admin: status.admin, nodes: status.nodes) }
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else { throw CLIError("cannot read the config file \(config)") }
            do { targets = targets.overridden(by: try CheckTargets.decode(data, path: config)) } catch { throw CLIError(error.description) }
        }
        targets = targets.overridden(by: flags)
        // Nodes named anywhere are asked as named; otherwise the bus's live nodes, followed.
        let watchNodes: WatchNodes
        if !targets.nodes.isEmpty {
            watchNodes = WatchNodes(fixed: targets.nodes)
        } else if let admin = targets.admin {
            watchNodes = WatchNodes(discoveringFrom: try AdminClient(base: admin, token: targets.adminToken, timeout: timeout))
        } else {
            throw CLIError("no nodes to check: give --status-file F, --admin URL, --config F or --node service=host:port")
        }
        let configuration = WatchConfiguration(
            kafka: KafkaConfiguration(bootstrapServers: bootstrap, properties: try watch.kafkaProperties.parsed()),
            topics: Topics(prefix: watch.topicPrefix ?? status?.topicPrefix ?? "cascade."), services: watch.services,
            sampleRate: watch.sample, windowMillis: watch.windowMs, maxPending: watch.maxPending,
            requirepass: targets.requirepass, timeout: timeout)
        let (sample, window) = (watch.sample, watch.windowMs)
        let consistencyWatch = try await ConsistencyWatch.make(
            configuration: configuration, nodes: watchNodes, metricsPort: watch.metricsPort, logger: logger,
            onListening: { port in printLine("cascade check --watch: metrics on http://0.0.0.0:\(port)/metrics") },
            onReady: { services in
                printLine(
                    "cascade check --watch: following \(services.joined(separator: ", ")), sampling \(sample * 100)% of invalidated keys, "
                        + "checked \(window) ms after their invalidation")
            })
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: consistencyWatch.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).bounded())
        try await group.run()
    }
}
