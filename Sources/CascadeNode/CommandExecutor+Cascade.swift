import CascadeCache
import CascadeRESP
import CascadeStore
import CascadeWire
import NIOCore

/// LEASE.GET, LEASE.SET and CASCADE.META: the extensions documented in docs/node.md.
extension CommandExecutor {
    /// `LEASE.GET key [DEPS dep ...]` → `[value, nil]` on a hit, `[nil, token]` on a miss.
    func leaseGet(_ arguments: [ByteBuffer], _ session: Session, _ out: inout ByteBuffer) {
        var dependencies: [Dependency] = []
        if arguments.count > 2 {
            guard arguments[2].equalsKeyword("DEPS"), arguments.count > 3 else {
                return out.writeRESPError(CommandExecutor.syntaxError)
            }
            switch SetCommandOptions.parseDependencies(arguments[3...], service: node.service) {
            case .success(let parsed): dependencies = parsed
            case .failure(let failure): return out.writeRESPError(failure.message)
            }
            if let refusal = CommandExecutor.registrableKey(arguments[1]) { return out.writeRESPError(refusal) }
        }
        guard let claim = node.claimRegistration(keyBytes: arguments[1].readableBytes, dependencies) else {
            return out.writeRESPError(node.registrationQueueFull)
        }
        var reply = ByteBuffer()
        let outcome = arguments[1].withUnsafeReadableBytes { key in
            store.leaseGet(key, dependencies: dependencies, serveHits: node.servesReads()) { value in
                reply.writeRESPBulkString(value)
            }
        }
        out.writeRESPArrayHeader(2)
        switch outcome {
        case .hit:
            out.writeImmutableBuffer(reply)
            out.writeRESPNull(session.version)
            node.release(claim)
        case .miss(let token):
            out.writeRESPNull(session.version)
            out.writeRESPBulkString(String(token))
            node.register(key: arguments[1].text, claim: claim, lease: true, incarnation: token)
        }
    }

    /// `LEASE.SET key token value [EX s|PX ms] [DEPS dep ...]` → OK, -STALE or -NOLEASE.
    func leaseSet(_ arguments: [ByteBuffer], _ out: inout ByteBuffer) {
        guard let token = UInt64(arguments[2].text) else {
            return out.writeRESPError("NOLEASE '\(arguments[2].text.prefix(64))' is not a lease token")
        }
        let options: SetCommandOptions
        switch SetCommandOptions.parse(
            arguments, from: 4, command: "lease.set", service: node.service, now: { store.now }, leaseOptionsOnly: true) {
        case .success(let parsed): options = parsed
        case .failure(let error): return out.writeRESPError(error.message)
        }
        if let refusal = CommandExecutor.registrableKey(arguments[1]) { return out.writeRESPError(refusal) }
        // Claimed for the new dependencies only: the lease's own come back from the store, and
        // were admitted under the bound by its LEASE.GET, so a lease adds at most them again.
        guard let claim = node.claimRegistration(keyBytes: arguments[1].readableBytes, options.dependencies ?? []) else {
            return out.writeRESPError(node.registrationQueueFull)
        }
        var incarnation: UInt64 = 0
        let (outcome, dependencies) = arguments[1].withUnsafeReadableBytes { key in
            arguments[3].withUnsafeReadableBytes { value in
                store.leaseSet(
                    key, token: token, value: value, expiry: options.expiry, dependencies: options.dependencies ?? [],
                    registered: { incarnation = $0 })
            }
        }
        if outcome == .stored {
            node.register(key: arguments[1].text, claim: claim, deps: dependencies.map(\.description), lease: false, incarnation: incarnation)
        } else {
            node.release(claim)
        }
        writeSetOutcome(outcome, Session(id: 0, authenticated: true), &out)
    }

    /// `CASCADE.AFTER <partition>:<offset> [timeout-ms]` → +OK once this node has applied
    /// everything the bus derived from that partition of the events topic through that offset,
    /// or -TIMEOUT. Answered here when it already has; otherwise the connection waits
    /// (`Session.waitFor`), like a Redis blocking command.
    func after(_ arguments: [ByteBuffer], _ session: inout Session, _ out: inout ByteBuffer) {
        guard arguments.count <= 3 else { return out.writeRESPError("ERR wrong number of arguments for 'cascade.after' command") }
        let token = arguments[1].text
        let parts = token.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let partition = Int32(parts[0]), let offset = Int64(parts[1]), partition >= 0, offset >= 0 else {
            return out.writeRESPError("ERR invalid token '\(token.prefix(64))': expected <partition>:<offset> of the event on the events topic")
        }
        var timeout = CommandExecutor.defaultAfterTimeoutMillis
        if arguments.count == 3 {
            guard let parsed = arguments[2].integerValue, parsed >= 0 else {
                return out.writeRESPError("ERR timeout is not a whole number of milliseconds")
            }
            timeout = Int64(min(parsed, 3_600_000))
        }
        if let through = node.positions.through(partition), through >= offset { return out.writeRESPOK() }
        session.waitFor = (partition, offset, timeout)
    }

    static let defaultAfterTimeoutMillis: Int64 = 10_000

    /// `CASCADE.HOTKEYS [n]` → up to n (default 10) `[key, hits]` pairs, hottest first; hits
    /// are the sketch's estimate of recent reads (halved every 10 s).
    func hotKeys(_ arguments: [ByteBuffer], _ session: Session, _ out: inout ByteBuffer) {
        guard arguments.count <= 2 else { return out.writeRESPError("ERR wrong number of arguments for 'cascade.hotkeys' command") }
        var count = 10
        if arguments.count == 2 {
            guard let parsed = arguments[1].integerValue, parsed >= 0 else { return out.writeRESPError(CommandExecutor.notInteger) }
            count = parsed
        }
        let keys = store.hotKeys(count)
        out.writeRESPValue(.array(keys.map { .array([.bulk($0.key), .integer($0.hits)]) }), session.version)
    }

    /// `CASCADE.META key` → a map: exists, set_at_ms, ttl_ms, deps (each with its fence), key_fence
    /// (the last invalidation's time and cause, and the earlier ones still kept).
    func meta(_ arguments: [ByteBuffer], _ session: Session, _ out: inout ByteBuffer) {
        let report = arguments[1].withUnsafeReadableBytes { store.report($0) }
        let ttl: Int
        switch report.ttl {
        case .missing: ttl = -2
        case .persistent: ttl = -1
        case .millis(let remaining): ttl = Int(remaining)
        }
        let dependencies: [RESPValue] = report.dependencies.map { entry in
            var version: RESPValue = .null
            if case .entity(_, let named?) = entry.dependency { version = .integer(Int(clamping: named)) }
            return .map([
                (.bulk("dep"), .bulk(entry.dependency.description)),
                (.bulk("tag"), .bulk(entry.dependency.tag)),
                (.bulk("version"), version),
                (.bulk("fence"), entry.fence.map { .integer(Int(clamping: $0)) } ?? .null),
            ])
        }
        var keyFence: RESPValue = .null
        if let fence = report.keyFence {
            keyFence = .map([
                (.bulk("at_ms"), .integer(Int(fence.atMillis))),
                (.bulk("cause"), fence.cause.map { .bulk($0) } ?? .null),
                (.bulk("earlier"), .array(fence.earlier.map { applied in
                    .map([(.bulk("at_ms"), .integer(Int(applied.atMillis))), (.bulk("cause"), applied.cause.map { .bulk($0) } ?? .null)])
                })),
            ])
        }
        out.writeRESPValue(.map([
            (.bulk("exists"), .integer(report.exists ? 1 : 0)),
            (.bulk("set_at_ms"), report.setAtMillis.map { .integer(Int($0)) } ?? .null),
            (.bulk("ttl_ms"), .integer(ttl)),
            (.bulk("deps"), .array(dependencies)),
            (.bulk("key_fence"), keyFence),
            (.bulk("family"), node.families?.family(report.family).map { .bulk($0.name) } ?? .null),
            (.bulk("ttl_adaptive"), .integer(report.adaptiveTTL ? 1 : 0)),
        ]), session.version)
    }
}
