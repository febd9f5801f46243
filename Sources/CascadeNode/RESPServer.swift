import CascadeCache
import CascadeRESP
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The node's Redis-protocol listener as a Service: on graceful shutdown it stops accepting,
/// asks every connection to finish (flush and close), and returns once they are closed.
public final class RESPServer: Service {
    private let node: CacheNode
    private let settings: RESPSettings
    private let group: any EventLoopGroup
    private let connections: ConnectionRegistry
    private let onListening: @Sendable (SocketAddress) -> Void
    private let beforeListening: @Sendable () async -> Void

    /// `beforeListening` is awaited before the port opens: a node must read its invalidation
    /// stream from a fixed position before it stores anything, or an invalidation sent in
    /// between would be skipped and the value it should drop kept.
    public init(
        node: CacheNode, settings: RESPSettings = RESPSettings(), group: any EventLoopGroup, beforeListening: @escaping @Sendable () async -> Void = {},
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.node = node
        self.settings = settings
        self.group = group
        self.connections = ConnectionRegistry(limit: settings.maxConnections)
        self.beforeListening = beforeListening
        self.onListening = onListening
    }

    /// Binds and returns the listening channel; `run()` calls it, tests may too.
    func bind() async throws -> any Channel {
        let node = node
        let settings = settings
        let connections = connections
        return try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                guard connections.add(channel) else {
                    // Over the limit: Redis's error, then close; nothing is read from this client.
                    var reply = channel.allocator.buffer(capacity: 64)
                    reply.writeRESPError("ERR max number of clients reached")
                    return channel.writeAndFlush(reply).flatMap { channel.close() }
                }
                node.counters.connections.wrappingAdd(1, ordering: .relaxed)
                channel.closeFuture.whenComplete { _ in
                    connections.remove(channel)
                    node.counters.connections.wrappingSubtract(1, ordering: .relaxed)
                }
                let id = node.counters.connectionIDs.wrappingAdd(1, ordering: .relaxed).newValue
                do {
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(node: node, settings: settings, id: id))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: node.configuration.host, port: node.configuration.port)
            .get()
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.beforeListening() }
        if Task.isShuttingDownGracefully || Task.isCancelled { return }
        let listener = try await bind()
        if let address = listener.localAddress {
            node.listening(on: node.configuration.host, port: address.port ?? node.configuration.port)
            onListening(address)
        }
        let maintenance = listener.eventLoop.scheduleRepeatedTask(
            initialDelay: .milliseconds(node.configuration.maintenanceIntervalMillis),
            delay: .milliseconds(node.configuration.maintenanceIntervalMillis)
        ) { [node] _ in node.maintain() }
        try await withGracefulShutdownHandler {
            try await listener.closeFuture.get()
        } onGracefulShutdown: {
            listener.close(promise: nil)
        }
        maintenance.cancel()
        for channel in connections.all {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        for channel in connections.all {
            try? await channel.closeFuture.get()
        }
        // Tombstones of keys that went during the last tick still go out.
        node.maintain()
    }
}
