import CascadeCache
import CascadeRESP
import CascadeStore
import NIOCore

/// Runs one command synchronously against the store and writes its reply into `out`: no
/// actor hop, no task, so a pipelined batch costs one read, the commands, and one write.
struct CommandExecutor {
    let node: CacheNode
    let settings: RESPSettings

    var store: CacheStore { node.store }

    func execute(_ arguments: [ByteBuffer], session: inout Session, out: inout ByteBuffer) {
        guard let first = arguments.first else { return }
        // GET and SET skip the table lookup: they are most of the traffic.
        if session.authenticated && first.readableBytes == 3 {
            if first.equalsKeyword("GET") && arguments.count == 2 { return get(arguments, session, &out) }
            if first.equalsKeyword("SET") && arguments.count >= 3 { return set(arguments, session, &out) }
        }
        let name = first.upperASCII
        guard let spec = CommandTable.specs[name] else {
            return out.writeRESPError(unknownCommand(first, arguments))
        }
        if !session.authenticated && !spec.kind.allowedUnauthenticated {
            return out.writeRESPError("NOAUTH Authentication required.")
        }
        guard spec.acceptsArgumentCount(arguments.count) else {
            return out.writeRESPError("ERR wrong number of arguments for '\(spec.name)' command")
        }
        switch spec.kind {
        case .get: get(arguments, session, &out)
        case .set: set(arguments, session, &out)
        case .mget: mget(arguments, session, &out)
        case .mset: mset(arguments, &out)
        case .setex, .psetex: setex(arguments, milliseconds: spec.kind == .psetex, &out)
        case .del, .unlink: delete(arguments, &out)
        case .exists: exists(arguments, &out)
        case .expire, .pexpire: expire(arguments, milliseconds: spec.kind == .pexpire, name: spec.name, &out)
        case .persist: out.writeRESPInteger(arguments[1].withUnsafeReadableBytes { store.persist($0) } ? 1 : 0)
        case .ttl, .pttl: ttl(arguments, milliseconds: spec.kind == .pttl, &out)
        case .type:
            out.writeRESPSimpleString(arguments[1].withUnsafeReadableBytes { store.exists($0) } ? "string" : "none")
        case .scan: scan(arguments, session, &out)
        case .keys: keys(arguments, session, &out)
        case .dbsize: out.writeRESPInteger(store.count)
        case .flushall, .flushdb:
            store.removeAll()
            out.writeRESPOK()
        case .leaseGet: leaseGet(arguments, session, &out)
        case .leaseSet: leaseSet(arguments, &out)
        case .cascadeMeta: meta(arguments, session, &out)
        case .cascadeAfter: after(arguments, &session, &out)
        case .cascadeHotKeys: hotKeys(arguments, session, &out)
        case .ping:
            if arguments.count > 2 { return out.writeRESPError("ERR wrong number of arguments for 'ping' command") }
            if arguments.count == 2 { out.writeRESPBulkString(arguments[1]) } else { out.writeRESPSimpleString("PONG") }
        case .echo: out.writeRESPBulkString(arguments[1])
        case .quit:
            out.writeRESPOK()
            session.closeAfterReply = true
        case .hello: hello(arguments, &session, &out)
        case .auth: auth(arguments, &session, &out)
        case .select:
            if arguments[1].integerValue == 0 { out.writeRESPOK() } else { out.writeRESPError("ERR DB index is out of range") }
        case .client: client(arguments, &session, &out)
        case .command: command(arguments, session, &out)
        case .config: config(arguments, session, &out)
        case .info: out.writeRESPVerbatim(InfoReport(node: node).text(sections: arguments.dropFirst().map(\.text)), session.version)
        }
    }

    /// Redis's wording: `ERR unknown command 'x', with args beginning with: 'a' 'b' `.
    private func unknownCommand(_ name: ByteBuffer, _ arguments: [ByteBuffer]) -> String {
        var message = "ERR unknown command '\(name.text.prefix(128))', with args beginning with: "
        for argument in arguments.dropFirst().prefix(16) { message += "'\(argument.text.prefix(128))' " }
        return message
    }

    static let notInteger = "ERR value is not an integer or out of range"
    static let syntaxError = "ERR syntax error"
    static let outOfMemory = "OOM command not allowed when used memory > 'maxmemory'."
}
