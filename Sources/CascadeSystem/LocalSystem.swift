import CascadeBus
import CascadeCache
import CascadeGateway
import CascadeKafka
import CascadeNode
import Logging
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// A `SystemPlan` built and run in one `ServiceGroup`, with the readiness its parts report
/// to. The broker and its topics are the caller's.
public final class LocalSystem: Sendable {
    /// Says when every node, the gateway and every bus instance is ready, and their addresses.
    public let readiness: StartupReadiness
    /// Each service's node, by service.
    public let nodes: [String: NodeRuntime]
    public let gateway: GatewayRuntime?
    public let buses: [BusService]
    private let group: ServiceGroup
    private let eventLoops: MultiThreadedEventLoopGroup

    /// `before` starts first and stops last (a producer the caller publishes with); `after`
    /// starts last and stops first (a watcher). Between them the nodes and the gateway, then
    /// each bus with its admin API: the buses stop before the caches they feed. `signals`
    /// stop it gracefully.
    public init(
        _ plan: SystemPlan, before: [any Service] = [], after: [any Service] = [], signals: [UnixSignal] = [], logger: Logger
    ) throws {
        let readiness = StartupReadiness(services: plan.services, gateway: plan.gateway != nil, buses: plan.buses)
        self.readiness = readiness
        eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var nodes: [String: NodeRuntime] = [:]
        var services: [any Service] = []
        for (index, service) in plan.services.enumerated() {
            let node = try Self.node(service, index: index, plan, eventLoops: eventLoops, readiness: readiness)
            nodes[service] = node
            services += node.services
        }
        self.nodes = nodes
        gateway = try plan.gateway.map { try Self.gateway($0, plan, readiness: readiness) }
        services += gateway?.services ?? []
        var buses: [BusService] = []
        for index in 0..<plan.buses {
            var configuration = BusConfiguration(kafka: plan.kafka, topics: plan.topics, partitions: plan.partitions)
            configuration.instance = "bus-\(index)"
            configuration.tracing = plan.tracing
            plan.bus(&configuration)
            let bus = try BusService(configuration: configuration, graph: plan.graph, logger: Logger(label: "cascade.bus"))
            buses.append(bus)
            services += [bus] + Self.admin(of: bus, instance: index, port: plan.adminPort, readiness: readiness, logger: logger)
        }
        self.buses = buses
        group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: before + services + after, gracefulShutdownSignals: signals, logger: logger).bounded())
    }

    /// Runs everything until a graceful shutdown (`stop`, or one of the signals), then closes
    /// the nodes' event loops.
    public func run() async throws {
        do {
            try await group.run()
        } catch {
            try? await eventLoops.shutdownGracefully()
            throw error
        }
        try await eventLoops.shutdownGracefully()
    }

    /// Starts the graceful shutdown; `run` returns once it is done.
    public func stop() async {
        await group.triggerGracefulShutdown()
    }

    private static func node(
        _ service: String, index: Int, _ plan: SystemPlan, eventLoops: MultiThreadedEventLoopGroup, readiness: StartupReadiness
    ) throws -> NodeRuntime {
        var configuration = NodeConfiguration(
            service: service, port: plan.nodePort == 0 ? 0 : plan.nodePort + index, maxStalenessMillis: plan.maxStalenessMillis,
            families: FamilyDirectory(graph: plan.graph, service: service))
        configuration.tracing = plan.tracing
        let onApplied = plan.onApplied.map { onApplied in { @Sendable message in onApplied(message, service) } }
        return try NodeRuntime(
            configuration: configuration, kafka: plan.kafka, topics: plan.topics, group: eventLoops,
            logger: Logger(label: "cascade.node.\(service)"),
            onListening: { address in readiness.nodeListening(service, address: "127.0.0.1:\(address.port ?? 0)") },
            onReady: { readiness.nodeReady(service) }, onApplied: onApplied)
    }

    private static func gateway(_ gateway: SystemPlan.Gateway, _ plan: SystemPlan, readiness: StartupReadiness) throws -> GatewayRuntime {
        let onApplied = plan.onApplied.map { onApplied in { @Sendable message in onApplied(message, gateway.service) } }
        var configuration = gateway.configuration
        configuration.tracing = configuration.tracing ?? plan.tracing
        var node = NodeConfiguration(service: gateway.service, port: configuration.port)
        node.tracing = plan.tracing
        return try GatewayRuntime(
            configuration: configuration, node: node,
            kafka: plan.kafka, topics: plan.topics, logger: Logger(label: "cascade.gateway"), onApplied: onApplied
        ) { url in readiness.gatewayReady(url) }
    }

    /// The bus instance's admin API when the plan has one. Either way the instance counts as
    /// ready once it consumes events, not only once its state is rebuilt: a first event
    /// would wait for the partitions to be taken.
    private static func admin(
        of bus: BusService, instance: Int, port: Int?, readiness: StartupReadiness, logger: Logger
    ) -> [any Service] {
        @Sendable func announce(_ admin: String) async {
            await bus.awaitReady()
            await bus.awaitConsuming()
            if bus.isReady { readiness.busReady(admin: admin, instance: instance) }
        }
        guard let port else {
            Task { await announce("in-process") }
            return []
        }
        let application = buildApplication(
            AdminContextSource(bus: bus), host: "127.0.0.1", port: port == 0 ? 0 : port + instance, logger: logger
        ) { host, port in
            bus.setAdminURL("http://\(host):\(port)")
            Task { await announce("http://\(host):\(port)") }
        }
        return [application]
    }
}
