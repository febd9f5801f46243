import CascadeRESP
import NIOCore
import NIOPosix

/// A RESP client for one node (the audit, `publish --wait`, `warm`, `check --watch`, the
/// benchmarks): a NIO channel with CascadeRESP's reply decoder, awaited, never blocking a
/// thread. Enough for SCAN, pipelined CASCADE.META and UNLINK, SET and CASCADE.AFTER. Callers
/// may share a connection: replies are matched to requests in the order they reach its event loop.
public final class NodeClient: Sendable {
    public let address: String
    private let channel: any Channel
    private let timeout: TimeAmount

    /// Connects to `host:port` within `timeout` seconds and authenticates when `password` is set.
    /// Each reply must come within `timeout` too.
    public init(address: String, timeout: Double, password: String?) async throws {
        self.address = address
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (0...65535).contains(port) else {
            throw OperatorError("'\(address)' is not host:port")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.timeout = .nanoseconds(Int64(timeout * 1e9))
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(self.timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPReplyDecoder()))
                    try channel.pipeline.syncOperations.addHandler(PipelineHandler())
                }
            }
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch let error as NIOConnectionError where error.connectionErrors.isEmpty {
            throw OperatorError("cannot resolve the node host '\(host)' of \(address)")
        } catch let error as NIOConnectionError {
            throw OperatorError("cannot reach the node at \(address): \(NodeClient.reason(error.connectionErrors.last?.error ?? error))")
        } catch {
            throw OperatorError("cannot reach the node at \(address): \(NodeClient.reason(error))")
        }
        if let password {
            let reply = try await command(encodeRESPCommand("AUTH", password))
            if case .error(let message) = reply { throw OperatorError("the node at \(address) refused AUTH: \(message)") }
        }
    }

    deinit { channel.close(promise: nil) }

    /// Sends one command and reads its reply.
    public func command(_ bytes: [UInt8]) async throws -> RESPValue {
        try await send(bytes, replies: 1)[0]
    }

    /// Sends every command in one write, then reads as many replies.
    public func pipeline(_ commands: [[UInt8]]) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        return try await send(commands.flatMap { $0 }, replies: commands.count)
    }

    private func send(_ bytes: [UInt8], replies: Int) async throws -> [RESPValue] {
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        let request = PipelineHandler.Request(bytes: channel.allocator.buffer(bytes: bytes), replies: replies, promise: promise)
        // The channel closes on a late reply: the replies after it would answer the wrong command.
        let timer = channel.eventLoop.scheduleTask(in: timeout) { [channel] in
            promise.fail(PipelineHandler.Failure.timedOut)
            channel.close(promise: nil)
        }
        channel.writeAndFlush(request, promise: nil)
        do {
            let values = try await promise.futureResult.get()
            timer.cancel()
            return values
        } catch PipelineHandler.Failure.timedOut {
            throw OperatorError("lost the node at \(address): no reply in time")
        } catch PipelineHandler.Failure.closed {
            throw OperatorError("the node at \(address) closed the connection")
        } catch let error as RESPReplyDecodingError {
            throw OperatorError("the node at \(address) sent a reply that is not RESP: \(error.description)")
        } catch {
            throw OperatorError("lost the node at \(address): \(NodeClient.reason(error))")
        }
    }

    private static func reason(_ error: any Error) -> String {
        if let error = error as? IOError { return error.description }
        if error is ChannelError { return "\(error)" }
        return "\(error)"
    }
}

/// Matches replies to requests in order: each request writes its commands and waits for as
/// many replies. Runs on the channel's event loop, so its queue needs no lock.
private final class PipelineHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    struct Request {
        var bytes: ByteBuffer
        var replies: Int
        var promise: EventLoopPromise<[RESPValue]>
    }

    enum Failure: Error {
        case timedOut
        case closed
    }

    private var waiting: [(replies: Int, promise: EventLoopPromise<[RESPValue]>)] = []
    private var waitingStart = 0
    private var received: [RESPValue] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        waiting.append((request.replies, request.promise))
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard waitingStart < waiting.count else { return }
        received.append(unwrapInboundIn(data))
        let (replies, promise) = waiting[waitingStart]
        guard received.count == replies else { return }
        waitingStart += 1
        if waitingStart == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingStart = 0
        }
        let values = received
        received = []
        promise.succeed(values)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(Failure.closed)
        context.fireChannelInactive()
    }

    private func failAll(_ error: any Error) {
        let pending = waiting[waitingStart...]
        waiting = []
        waitingStart = 0
        received = []
        for (_, promise) in pending { promise.fail(error) }
    }
}
