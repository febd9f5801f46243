import CascadeCache
import CascadeRESP
import Metrics
import NIOCore

/// One client connection: decodes the bytes it reads, runs each command at once, gathers the
/// replies of a read batch in one buffer and writes them with one flush in
/// `channelReadComplete`. The decoder runs inside this handler (NIO's single-step processor)
/// rather than as a pipeline stage, so a command costs no pipeline hop and no NIOAny boxing.
///
/// Commands are held, in order, while a CASCADE.AFTER waits and while the client is not
/// reading its replies (the channel is not writable): reading stops too, so a connection holds
/// at most one read's worth of commands and one flush's worth of replies, whatever it sends.
/// Unfinished commands are capped by `RESPLimits.maxQueryBuffer`.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let executor: CommandExecutor
    private var session: Session
    private var pending: ByteBuffer
    private var commandsInBatch = 0
    private let counters: NodeCounters
    /// Every `latencySampling`-th read batch is timed, from its first command to its flush,
    /// into `cascade_node_command_duration_seconds`: two clock reads per sampled batch.
    private let commandDuration: Timer
    private var batchesRead = 0
    private var batchStartedAt: NIODeadline?
    private static let latencySampling = 16
    /// Replies beyond this are written before the batch ends, so a long pipeline cannot grow
    /// the buffer without bound.
    private static let flushThreshold = 64 << 10

    private var processor: NIOSingleStepByteToMessageProcessor<RESPCommandDecoder>
    private var failed = false
    private let positions: AppliedPositions
    /// Decoded commands not run yet, oldest at `heldStart`.
    private var held: [RESPCommand] = []
    private var heldStart = 0
    /// The CASCADE.AFTER being waited for, and its timer.
    private var waiting: (waiter: AppliedPositions.Waiter, timer: Scheduled<Void>?)?
    /// The client is not reading: its replies are not written out.
    private var paused = false

    init(node: CacheNode, settings: RESPSettings, id: Int) {
        executor = CommandExecutor(node: node, settings: settings)
        let limits = settings.limits
        processor = NIOSingleStepByteToMessageProcessor(RESPCommandDecoder(limits: limits), maximumBufferSize: limits.maxQueryBuffer)
        session = Session(id: id, authenticated: settings.requirePass == nil)
        counters = node.counters
        commandDuration = node.metrics.commandDuration
        positions = node.positions
        pending = ByteBuffer()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        pending = context.channel.allocator.buffer(capacity: 1024)
    }

    private var holding: Bool { waiting != nil || paused || heldStart < held.count }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !session.closeAfterReply, !failed else { return }
        do {
            try processor.process(buffer: unwrapInboundIn(data)) { command in
                guard !session.closeAfterReply else { return }
                if holding {
                    held.append(command)
                } else {
                    run(command, context)
                }
            }
        } catch {
            failed = true
            errorCaught(context: context, error: error)
        }
    }

    private func run(_ command: RESPCommand, _ context: ChannelHandlerContext) {
        if commandsInBatch == 0 {
            batchesRead &+= 1
            if batchesRead % ConnectionHandler.latencySampling == 0 { batchStartedAt = .now() }
        }
        commandsInBatch += 1
        executor.execute(command.arguments, session: &session, out: &pending)
        if let wait = session.waitFor {
            session.waitFor = nil
            block(partition: wait.partition, offset: wait.offset, timeoutMillis: wait.timeoutMillis, context)
        } else if session.closeAfterReply {
            flush(context)
            context.close(promise: nil)
        } else if pending.readableBytes >= ConnectionHandler.flushThreshold {
            flush(context)
            if !context.channel.isWritable { pause(context) }
        }
    }

    /// Runs held commands until one holds the connection again or none is left.
    private func drain(_ context: ChannelHandlerContext) {
        while heldStart < held.count, waiting == nil, !paused, !session.closeAfterReply, context.channel.isActive {
            let command = held[heldStart]
            heldStart += 1
            run(command, context)
        }
        if heldStart >= held.count {
            held.removeAll(keepingCapacity: held.count <= 1024)
            heldStart = 0
        }
        flush(context)
        if !holding && context.channel.isActive {
            try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        }
    }

    private func pause(_ context: ChannelHandlerContext) {
        paused = true
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
    }

    /// Holds the connection until the position is applied or the time is up.
    private func block(partition: Int32, offset: Int64, timeoutMillis: Int64, _ context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let waiter = AppliedPositions.Waiter(partition: partition, offset: offset) { applied in
            loop.execute {
                let (handler, context) = bound.value
                handler.unblock(applied: applied, context)
            }
        }
        waiting = (waiter, nil)
        flush(context)
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        if positions.wait(waiter) == true { return unblock(applied: true, context) }
        let positions = self.positions
        waiting?.timer = loop.scheduleTask(in: .milliseconds(timeoutMillis)) { positions.expire(waiter) }
    }

    private func unblock(applied: Bool, _ context: ChannelHandlerContext) {
        guard let (waiter, timer) = waiting else { return }
        waiting = nil
        timer?.cancel()
        if applied {
            pending.writeRESPOK()
        } else {
            let through = positions.through(waiter.partition).map(String.init) ?? "nothing"
            pending.writeRESPError("TIMEOUT \(waiter.partition):\(waiter.offset) is not applied yet (applied through \(through))")
        }
        drain(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let waiter = waiting?.waiter { positions.expire(waiter) }
        held = []
        heldStart = 0
        context.fireChannelInactive()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context)
        if let started = batchStartedAt {
            commandDuration.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
            batchStartedAt = nil
        }
        // One shared counter update per batch, not per command.
        counters.commands.wrappingAdd(commandsInBatch, ordering: .relaxed)
        commandsInBatch = 0
        // A client that pipelines without reading replies stops being read until it catches up.
        if !context.channel.isWritable { pause(context) }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && paused {
            paused = false
            drain(context)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A malformed frame: say why in Redis's words, then close (the stream is out of sync).
        if let decoding = error as? RESPDecodingError {
            pending.writeRESPError("ERR \(decoding.description)")
        } else if error is ByteToMessageDecoderError.PayloadTooLargeError {
            pending.writeRESPError("ERR the client's query buffer passed client-query-buffer-limit; closing it")
        }
        held = []
        heldStart = 0
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
