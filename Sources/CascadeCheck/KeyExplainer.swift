import CascadeClient
import CascadeRESP
import CascadeWire
import Foundation

/// Gathers `cascade why SERVICE/KEY`: `CASCADE.META` from the key's node, `GET /why` from
/// every bus instance (each remembers the cascades of its own partitions), the ledger
/// versions of the key's entities and the node's applied position from the first.
public struct KeyExplainer: Sendable {
    public var admins: [String]
    public var adminToken: String?
    public var node: String
    public var requirepass: String?
    public var timeout: Double
    public var limit: Int

    public init(admins: [String], adminToken: String?, node: String, requirepass: String?, timeout: Double, limit: Int = 5) {
        self.admins = admins
        self.adminToken = adminToken
        self.node = node
        self.requirepass = requirepass
        self.timeout = timeout
        self.limit = limit
    }

    /// Splits `SERVICE/KEY` at its first `/`; the problem says what was expected.
    public static func parse(_ text: String) throws -> (service: String, key: String) {
        guard let slash = text.firstIndex(of: "/"), slash != text.startIndex, text.index(after: slash) != text.endIndex else {
            throw OperatorError("'\(text.prefix(200))' is not SERVICE/KEY, e.g. product-service/product:p-17")
        }
        return (String(text[..<slash]), String(text[text.index(after: slash)...]))
    }

    public func explain(service: String, key: String) async throws -> KeyExplanation {
        guard !admins.isEmpty else { throw OperatorError("no bus to ask: give --admin URL or --status-file F") }
        let (node, timeout, password) = (self.node, self.timeout, requirepass)
        let clients = try admins.map { try AdminClient(base: $0, token: adminToken, timeout: timeout) }
        let keyBytes = Array(key.utf8)
        let client = try await NodeClient(address: node, timeout: timeout, password: password)
        let reply = try await client.command(encodeRESPCommand("CASCADE.META", key))
        let meta: KeyMeta
        do throws(RESPDecodeError) {
            meta = try KeyMeta(key: keyBytes, reply: reply)
        } catch {
            throw OperatorError("the node at \(node): \(error.description)")
        }
        let name = service + "/" + key
        let nodeRefs = KeyExplanation.entityRefs(meta: meta, busDeps: nil)
        var buses: [BusWhy] = []
        for client in clients { buses.append(try await client.why(name, refs: nodeRefs, limit: limit)) }
        let refs = KeyExplanation.entityRefs(meta: meta, busDeps: buses.lazy.compactMap(\.deps).first)
        let ledger = try await clients[0].records(for: Set(refs))
        let states = (try? await clients[0].nodeStates()) ?? []
        let state = states.first { $0.service == service && $0.address == node && $0.alive }
            ?? states.first { $0.service == service && $0.alive }
        return KeyExplanation(
            service: service, key: key, meta: meta, buses: buses, ledger: ledger,
            node: .init(address: node, applied: state?.applied, lag: state?.lag, stalenessMillis: state?.stalenessMillis), limit: limit)
    }
}
