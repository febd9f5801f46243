import CascadeClient
import CascadeRESP
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads keys and metadata from the nodes, and deletes stale keys for `--repair`.
struct NodeReader: Sendable {
    let nodes: [String: String]
    let password: String?
    let timeout: Double
    let scanCount: Int

    /// Every key of every node with its `CASCADE.META`, node by node.
    func scanAll(progress: CheckProgress) async throws -> [ServiceKeys] {
        var result: [ServiceKeys] = []
        for (service, address) in nodes.sorted(by: { $0.key < $1.key }) {
            let keys = try await scan(service: service, address: address, progress: progress)
            result.append(ServiceKeys(service: service, keys: keys))
        }
        progress.finish()
        return result
    }

    private func scan(service: String, address: String, progress: CheckProgress) async throws -> [KeyMeta] {
        let client = try await NodeClient(address: address, timeout: timeout, password: password)
        var metas: [KeyMeta] = []
        var cursor = "0"
        repeat {
            let reply = try await client.command(encodeRESPCommand("SCAN", cursor, "COUNT", String(scanCount)))
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].text, case .array(let names) = parts[1] else {
                throw OperatorError("the \(service) node at \(address) answered SCAN with \(describe(reply))")
            }
            cursor = next
            let keys = names.compactMap(\.bytes)
            // Keys that vanished between SCAN and META are not counted.
            metas += try await self.metas(keys, client: client, service: service).filter(\.exists)
            progress.update(service: service, keys: metas.count)
        } while cursor != "0"
        return metas
    }

    /// `CASCADE.META` for the given keys of one service, pipelined.
    func metas(service: String, keys: [[UInt8]]) async throws -> [KeyMeta] {
        guard let address = nodes[service], !keys.isEmpty else { return [] }
        let client = try await NodeClient(address: address, timeout: timeout, password: password)
        return try await metas(keys, client: client, service: service)
    }

    private func metas(_ keys: [[UInt8]], client: NodeClient, service: String) async throws -> [KeyMeta] {
        guard !keys.isEmpty else { return [] }
        let replies = try await client.pipeline(keys.map { encodeRESPCommand([Array("CASCADE.META".utf8), $0]) })
        return try zip(keys, replies).map { key, reply in
            do {
                return try KeyMeta(key: key, reply: reply)
            } catch {
                throw OperatorError("the \(service) node at \(client.address) is not a Cascade node (\(error))")
            }
        }
    }

    /// Deletes the keys of one service; true for each the node confirmed gone.
    func delete(service: String, keys: [[UInt8]]) async throws -> [Bool] {
        guard let address = nodes[service], !keys.isEmpty else { return keys.map { _ in false } }
        let client = try await NodeClient(address: address, timeout: timeout, password: password)
        var replies = try await client.pipeline(keys.map { encodeRESPCommand([Array("UNLINK".utf8), $0]) })
        if case .error? = replies.first {
            replies = try await client.pipeline(keys.map { encodeRESPCommand([Array("DEL".utf8), $0]) })
        }
        // 0 means it was already gone, which is as good as deleted.
        return replies.map { $0.integer != nil }
    }

    private func describe(_ reply: RESPValue) -> String {
        if case .error(let message) = reply { return "an error: \(message)" }
        return "an unexpected reply"
    }
}

/// One line on standard error, rewritten in place, when standard error is a terminal.
// @unchecked Sendable: its state is touched only under `lock`.
final class CheckProgress: @unchecked Sendable {
    private let enabled = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()
    private var last = Date.distantPast
    private var shown = false

    func update(service: String, keys: Int) {
        guard enabled else { return }
        lock.withLock {
            let now = Date()
            guard now.timeIntervalSince(last) > 0.2 else { return }
            last = now
            shown = true
            FileHandle.standardError.write(Data("\r\u{1B}[Kscanning \(service): \(keys) keys".utf8))
        }
    }

    func finish() {
        lock.withLock {
            if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            shown = false
        }
    }
}
