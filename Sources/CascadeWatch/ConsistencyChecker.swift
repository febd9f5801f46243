import CascadeCheck
import CascadeClient
import CascadeRESP
import CascadeWire
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Takes the checks whose window has passed, asks each node of the key's service for the
/// key's `CASCADE.META` (pipelined, one round trip per node per round), judges each answer
/// (`WatchVerdict`), counts it and names every violation in the log.
final class ConsistencyChecker: Service {
    private let pending: PendingChecks
    private let nodes: WatchNodes
    private let metrics: WatchMetrics
    private let logger: Logger
    private let connections: NodeConnections
    /// Checks taken per round at most: a backlog is worked off in rounds of this size.
    private let roundLimit = 2000

    init(configuration: WatchConfiguration, pending: PendingChecks, nodes: WatchNodes, metrics: WatchMetrics, logger: Logger) {
        self.pending = pending
        self.nodes = nodes
        self.metrics = metrics
        self.logger = logger
        connections = NodeConnections(password: configuration.requirepass, timeout: configuration.timeout)
    }

    func run() async throws {
        await cancelWhenGracefulShutdown { await self.loop() }
        connections.closeAll()
    }

    private func loop() async {
        var lastRefresh = ContinuousClock.now - .seconds(60)
        while !Task.isCancelled {
            let now = ContinuousClock.now
            if nodes.discovers, now - lastRefresh >= .seconds(5) {
                lastRefresh = now
                do { try await nodes.refresh() } catch { logger.warning("could not refresh the live nodes: \(error)") }
            }
            let (due, next) = pending.takeDue(now: now, limit: roundLimit)
            if !due.isEmpty { await check(due) }
            metrics.refresh(atMillis: Timestamps.nowMillis(), pending: pending.count)
            if due.count < roundLimit {
                // Until the next check falls due, and at least once a second to move the hour on.
                let wake = min(next ?? now + .seconds(1), now + .seconds(1))
                do { try await Task.sleep(until: wake, clock: .continuous) } catch { return }
            }
        }
    }

    private func check(_ due: [PendingCheck]) async {
        var byService: [String: [PendingCheck]] = [:]
        for check in due { byService[check.service, default: []].append(check) }
        for (service, checks) in byService {
            let addresses = nodes.nodes(of: service)
            if addresses.isEmpty {
                metrics.unchecked(.noNode, count: checks.count)
                continue
            }
            for address in addresses { await check(checks, service: service, on: address) }
        }
    }

    private func check(_ checks: [PendingCheck], service: String, on address: String) async {
        let commands = checks.map { encodeRESPCommand([Array("CASCADE.META".utf8), Array($0.key.utf8)]) }
        let connections = self.connections
        let replies: [RESPValue]
        do {
            replies = try await connections.pipeline(commands, to: address)
        } catch {
            metrics.unchecked(.nodeUnreachable, count: checks.count)
            if connections.reportFailure(address) {
                logger.warning("cannot check \(service) at \(address): \(error); its checks are counted as unchecked until it answers")
            }
            return
        }
        if connections.reportSuccess(address) { logger.info("checking \(service) at \(address) again") }
        var violations = 0
        var judged = 0
        let now = Timestamps.nowMillis()
        for (check, reply) in zip(checks, replies) {
            guard let meta = try? KeyMeta(key: Array(check.key.utf8), reply: reply) else {
                metrics.unchecked(.nodeUnreachable)
                continue
            }
            judged += 1
            let verdict = WatchVerdict.judge(meta, invalidatedAtMillis: check.invalidatedAtMillis)
            guard case .violation(let setAt) = verdict else { continue }
            violations += 1
            logger.error(
                "consistency violation: \(service) node \(address) still holds \(check.key), stored \(check.invalidatedAtMillis - setAt) ms before its invalidation by \(check.cause), \(now - check.invalidatedAtMillis) ms after that invalidation was sent",
                metadata: [
                    "service": "\(service)", "node": "\(address)", "key": "\(check.key)", "cause": "\(check.cause)",
                    "set_at_ms": "\(setAt)", "invalidated_at_ms": "\(check.invalidatedAtMillis)",
                ])
        }
        metrics.checked(service, checks: judged, violations: violations, atMillis: now)
    }
}

/// One connection per node, opened on first use and again after a failure. Used by the
/// checker's one loop, a round at a time.
final class NodeConnections: Sendable {
    private struct State {
        var clients: [String: NodeClient] = [:]
        var failing: Set<String> = []
    }

    private let state = Mutex(State())
    private let password: String?
    private let timeout: Double

    init(password: String?, timeout: Double) {
        self.password = password
        self.timeout = timeout
    }

    func pipeline(_ commands: [[UInt8]], to address: String) async throws -> [RESPValue] {
        let client: NodeClient
        if let open = state.withLock({ $0.clients[address] }) {
            client = open
        } else {
            client = try await NodeClient(address: address, timeout: timeout, password: password)
            state.withLock { $0.clients[address] = client }
        }
        do {
            let replies = try await client.pipeline(commands)
            guard replies.count == commands.count else { throw OperatorError("the node at \(address) answered \(replies.count) of \(commands.count) commands") }
            return replies
        } catch {
            // A lost or late reply leaves the connection unusable: the next round opens another.
            state.withLock { $0.clients[address] = nil }
            throw error
        }
    }

    /// True the first time a node fails after answering: worth one line in the log.
    func reportFailure(_ address: String) -> Bool { state.withLock { $0.failing.insert(address).inserted } }

    /// True when a node answers again after failing.
    func reportSuccess(_ address: String) -> Bool { state.withLock { $0.failing.remove(address) != nil } }

    func closeAll() { state.withLock { $0.clients = [:] } }
}
