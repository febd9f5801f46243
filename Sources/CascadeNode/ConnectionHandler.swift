import CascadeRESP
import NIOCore

/// One client connection: decodes the bytes it reads, runs each command at once, gathers the
/// replies of a read batch in one buffer and writes them with one flush in
/// `channelReadComplete`. The decoder runs inside this handler (NIO's single-step processor)
/// rather than as a pipeline stage, so a command costs no pipeline hop and no NIOAny boxing.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let executor: CommandExecutor
    private var session: Session
    private var pending: ByteBuffer
    private var commandsInBatch = 0
    private let counters: NodeCounters
    /// Replies beyond this are written before the batch ends, so a long pipeline cannot grow
    /// the buffer without bound.
    private static let flushThreshold = 64 << 10

    private var processor: NIOSingleStepByteToMessageProcessor<RESPCommandDecoder>
    private var failed = false

    init(node: CacheNode, id: Int) {
        executor = CommandExecutor(node: node)
        processor = NIOSingleStepByteToMessageProcessor(
            RESPCommandDecoder(limits: node.configuration.limits), maximumBufferSize: nil)
        session = Session(id: id, authenticated: node.configuration.requirePass == nil)
        counters = node.counters
        pending = ByteBuffer()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        pending = context.channel.allocator.buffer(capacity: 1024)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !session.closeAfterReply, !failed else { return }
        do {
            try processor.process(buffer: unwrapInboundIn(data)) { command in
                guard !session.closeAfterReply else { return }
                commandsInBatch += 1
                executor.execute(command.arguments, session: &session, out: &pending)
                if session.closeAfterReply {
                    flush(context)
                    context.close(promise: nil)
                } else if pending.readableBytes >= ConnectionHandler.flushThreshold {
                    flush(context)
                }
            }
        } catch {
            failed = true
            errorCaught(context: context, error: error)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context)
        // One shared counter update per batch, not per command.
        counters.commands.wrappingIncrement(by: commandsInBatch, ordering: .relaxed)
        commandsInBatch = 0
        // A client that pipelines without reading replies stops being read until it catches up.
        if !context.channel.isWritable { try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false) }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A malformed frame: say why in Redis's words, then close (the stream is out of sync).
        if let decoding = error as? RESPDecodingError {
            pending.writeRESPError("ERR \(decoding.description)")
        }
        flush(context)
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // Graceful shutdown: commands run synchronously, so nothing is half done.
            flush(context)
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func flush(_ context: ChannelHandlerContext) {
        guard pending.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(pending), promise: nil)
        pending = context.channel.allocator.buffer(capacity: 1024)
    }
}
