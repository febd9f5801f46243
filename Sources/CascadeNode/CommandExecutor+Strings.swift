import CascadeCache
import CascadeRESP
import CascadeStore
import CascadeWire
import NIOCore

/// GET, SET and the other string commands.
extension CommandExecutor {
    func get(_ arguments: [ByteBuffer], _ session: Session, _ out: inout ByteBuffer) {
        if !node.servesReads() { return missWhileDegraded(count: 1, session, &out) }
        let found = arguments[1].withUnsafeReadableBytes { key in
            store.get(key) { value in out.writeRESPBulkString(value) }
        }
        if !found { out.writeRESPNull(session.version) }
    }

    func mget(_ arguments: [ByteBuffer], _ session: Session, _ out: inout ByteBuffer) {
        out.writeRESPArrayHeader(arguments.count - 1)
        if !node.servesReads() { return missWhileDegraded(count: arguments.count - 1, session, &out) }
        for argument in arguments.dropFirst() {
            let found = argument.withUnsafeReadableBytes { key in store.get(key) { out.writeRESPBulkString($0) } }
            if !found { out.writeRESPNull(session.version) }
        }
    }

    func set(_ arguments: [ByteBuffer], _ session: Session, _ out: inout ByteBuffer) {
        let options: SetCommandOptions
        switch SetCommandOptions.parse(arguments, from: 3, command: "set", service: node.service, now: { store.now }) {
        case .success(let parsed): options = parsed
        case .failure(let error): return out.writeRESPError(error.message)
        }
        if options.dependencies != nil, let refusal = CommandExecutor.registrableKey(arguments[1]) { return out.writeRESPError(refusal) }
        guard let claim = node.claimRegistration(keyBytes: arguments[1].readableBytes, options.dependencies ?? []) else {
            return out.writeRESPError(node.registrationQueueFull)
        }
        var previousReply: ByteBuffer?
        var incarnation: UInt64 = 0
        let outcome = arguments[1].withUnsafeReadableBytes { key in
            arguments[2].withUnsafeReadableBytes { value in
                store.set(
                    key, value, condition: options.condition, expiry: options.expiry,
                    dependencies: options.dependencies,
                    previous: { old in
                        if options.returnPrevious, let old {
                            var reply = ByteBuffer()
                            reply.writeRESPBulkString(old)
                            previousReply = reply
                        }
                    },
                    registered: { incarnation = $0 })
            }
        }
        if case .stored = outcome {
            node.register(key: arguments[1].text, claim: claim, lease: false, incarnation: incarnation)
        } else {
            node.release(claim)
        }
        if options.returnPrevious, outcome == .stored || outcome == .notStored {
            if let previousReply { out.writeImmutableBuffer(previousReply) } else { out.writeRESPNull(session.version) }
            return
        }
        writeSetOutcome(outcome, session, &out)
    }

    /// Why a key cannot be registered with dependencies (too long for a registration), or nil.
    static func registrableKey(_ key: ByteBuffer) -> String? {
        guard key.readableBytes > Registration.Limits.maxKeyBytes else { return nil }
        return "ERR a key with DEPS may have at most \(Registration.Limits.maxKeyBytes) bytes (this one has \(key.readableBytes))"
    }

    /// Bounded staleness: the node cannot vouch that its values are current, so reads miss
    /// (the client reads its source, as on any miss) until the stream is confirmed again.
    func missWhileDegraded(count: Int, _ session: Session, _ out: inout ByteBuffer) {
        node.counters.degradedReads.wrappingIncrement(by: count, ordering: .relaxed)
        for _ in 0..<count { out.writeRESPNull(session.version) }
    }

    func writeSetOutcome(_ outcome: SetOutcome, _ session: Session, _ out: inout ByteBuffer) {
        switch outcome {
        case .stored: out.writeRESPOK()
        case .notStored: out.writeRESPNull(session.version)
        case .stale(let reason): out.writeRESPError("STALE \(reason)")
        case .noLease(let reason): out.writeRESPError("NOLEASE \(reason)")
        case .outOfMemory: out.writeRESPError(CommandExecutor.outOfMemory)
        }
    }

    func setex(_ arguments: [ByteBuffer], milliseconds: Bool, _ out: inout ByteBuffer) {
        let name = milliseconds ? "psetex" : "setex"
        guard let amount = arguments[2].integerValue else { return out.writeRESPError(CommandExecutor.notInteger) }
        guard amount > 0, let expireAt = SetCommandOptions.absoluteTime(amount, milliseconds: milliseconds, now: store.now) else {
            return out.writeRESPError("ERR invalid expire time in '\(name)' command")
        }
        let outcome = arguments[1].withUnsafeReadableBytes { key in
            arguments[3].withUnsafeReadableBytes { value in store.set(key, value, expiry: .at(expireAt)) }
        }
        if outcome == .outOfMemory { return out.writeRESPError(CommandExecutor.outOfMemory) }
        out.writeRESPOK()
    }

    func mset(_ arguments: [ByteBuffer], _ out: inout ByteBuffer) {
        guard arguments.count % 2 == 1 else { return out.writeRESPError("ERR wrong number of arguments for 'mset' command") }
        var index = 1
        while index < arguments.count {
            let outcome = arguments[index].withUnsafeReadableBytes { key in
                arguments[index + 1].withUnsafeReadableBytes { value in store.set(key, value) }
            }
            if outcome == .outOfMemory { return out.writeRESPError(CommandExecutor.outOfMemory) }
            index += 2
        }
        out.writeRESPOK()
    }

    func delete(_ arguments: [ByteBuffer], _ out: inout ByteBuffer) {
        var removed = 0
        for argument in arguments.dropFirst() where argument.withUnsafeReadableBytes({ store.delete($0) }) { removed += 1 }
        out.writeRESPInteger(removed)
    }

    func exists(_ arguments: [ByteBuffer], _ out: inout ByteBuffer) {
        var found = 0
        for argument in arguments.dropFirst() where argument.withUnsafeReadableBytes({ store.exists($0) }) { found += 1 }
        out.writeRESPInteger(found)
    }

    func expire(_ arguments: [ByteBuffer], milliseconds: Bool, name: String, _ out: inout ByteBuffer) {
        guard arguments.count == 3 else { return out.writeRESPError(CommandExecutor.syntaxError) }
        guard let amount = arguments[2].integerValue else { return out.writeRESPError(CommandExecutor.notInteger) }
        guard let expireAt = SetCommandOptions.absoluteTime(amount, milliseconds: milliseconds, now: store.now) else {
            return out.writeRESPError("ERR invalid expire time in '\(name)' command")
        }
        out.writeRESPInteger(arguments[1].withUnsafeReadableBytes { store.expire($0, at: expireAt) } ? 1 : 0)
    }

    func ttl(_ arguments: [ByteBuffer], milliseconds: Bool, _ out: inout ByteBuffer) {
        switch arguments[1].withUnsafeReadableBytes({ store.timeToLive($0) }) {
        case .missing: out.writeRESPInteger(-2)
        case .persistent: out.writeRESPInteger(-1)
        case .millis(let remaining): out.writeRESPInteger(milliseconds ? Int(remaining) : Int((remaining + 500) / 1000))
        }
    }
}
