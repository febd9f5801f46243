import CascadeWire
import Foundation

/// Reads the bus's admin API: entity versions (`GET /ledger/<Entity>/<id>`) and the live
/// nodes (`GET /nodes`).
public struct AdminClient: Sendable {
    let base: String
    let token: String?
    let timeout: Double
    let concurrency = 16

    public init(base: String, token: String?, timeout: Double) throws {
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        guard let url = URL(string: trimmed), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw OperatorError("--admin '\(base)' is not an http:// URL")
        }
        self.base = trimmed
        self.token = token
        self.timeout = timeout
    }

    /// Refuses to judge against a bus that is still rebuilding its ledger: a partial ledger
    /// would hide stale keys.
    public func ensureReady() async throws {
        guard let url = URL(string: base + "/readyz") else { return }
        let (status, body) = try await get(url)
        if status == 503 { throw OperatorError("the bus at \(base) is not ready (\(body.trimmingCharacters(in: .whitespacesAndNewlines))); try again shortly") }
    }

    /// The latest version of each `Entity#id`; instances the bus never saw are absent.
    public func records(for refs: Set<String>) async throws -> [String: LedgerRecord] {
        var pending = refs.sorted()[...]
        var found: [String: LedgerRecord] = [:]
        try await withThrowingTaskGroup(of: (String, LedgerRecord?).self) { group in
            func startNext() {
                guard let ref = pending.popFirst() else { return }
                group.addTask { (ref, try await record(ref)) }
            }
            for _ in 0..<concurrency { startNext() }
            while let (ref, record) = try await group.next() {
                if let record { found[ref] = record }
                startNext()
            }
        }
        return found
    }

    func record(_ ref: String) async throws -> LedgerRecord? {
        guard let parsed = EntityRef(parsing: ref) else { return nil }
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/#?%")
        guard let entity = parsed.entity.addingPercentEncoding(withAllowedCharacters: allowed),
              let id = parsed.id.addingPercentEncoding(withAllowedCharacters: allowed),
              let url = URL(string: "\(base)/ledger/\(entity)/\(id)")
        else { return nil }
        let (status, body) = try await get(url)
        switch status {
        case 200:
            do {
                return try LedgerRecord.decode(Array(body.utf8))
            } catch {
                throw OperatorError("the bus at \(base) answered /ledger/\(entity)/\(id) with something that is not a ledger record")
            }
        case 404: return nil
        case 401, 403: throw OperatorError("the bus at \(base) refused the admin token (\(status)); give --admin-token")
        default: throw OperatorError("the bus at \(base) answered \(status) for the ledger of \(ref): \(body.prefix(200))")
        }
    }

    /// A node the bus has heard from lately, from `/nodes`.
    public struct LiveNode: Decodable, Sendable, Hashable {
        public var service: String
        public var address: String
        public var alive: Bool
    }

    /// The nodes that reported within the last few seconds, by service then address.
    public func liveNodes() async throws -> [LiveNode] {
        struct Listing: Decodable { var nodes: [LiveNode] }
        guard let url = URL(string: base + "/nodes") else { return [] }
        let (status, body) = try await get(url)
        guard status == 200, let listing = try? JSONDecoder().decode(Listing.self, from: Data(body.utf8)) else {
            throw OperatorError("the bus at \(base) answered \(status) for /nodes: \(body.prefix(200))")
        }
        return listing.nodes.filter(\.alive)
    }

    /// A node as `/nodes` lists it, with how far it has applied.
    public struct NodeState: Codable, Sendable, Equatable {
        public var service: String
        public var address: String
        public var applied: [String: Int64]
        public var stalenessMillis: Int64?
        public var lag: Int64
        public var alive: Bool

        enum CodingKeys: String, CodingKey {
            case service, address, applied, lag, alive
            case stalenessMillis = "staleness_ms"
        }
    }

    /// Every node the bus lists on `/nodes`, alive or not.
    public func nodeStates() async throws -> [NodeState] {
        struct Listing: Decodable { var nodes: [NodeState] }
        guard let url = URL(string: base + "/nodes") else { return [] }
        let (status, body) = try await get(url)
        guard status == 200, let listing = try? JSONDecoder().decode(Listing.self, from: Data(body.utf8)) else {
            throw OperatorError("the bus at \(base) answered \(status) for /nodes: \(body.prefix(200))")
        }
        return listing.nodes
    }

    /// What the bus remembers about one key (`GET /why`); `refs` are more `Entity#id`s whose
    /// dead letters to list.
    public func why(_ key: String, refs: [String], limit: Int = 5) async throws -> BusWhy {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "#&+=?%")
        let fields = [("key", key), ("limit", String(limit))] + refs.map { ("ref", $0) }
        let query = fields.compactMap { name, value in value.addingPercentEncoding(withAllowedCharacters: allowed).map { "\(name)=\($0)" } }
        guard query.count == fields.count, let url = URL(string: base + "/why?" + query.joined(separator: "&")) else {
            throw OperatorError("'\(key)' cannot be put in a URL")
        }
        let (status, body) = try await get(url)
        switch status {
        case 200:
            do {
                return try JSONDecoder().decode(BusWhy.self, from: Data(body.utf8))
            } catch {
                throw OperatorError("the bus at \(base) answered /why with something unexpected: \(body.prefix(200))")
            }
        case 404: throw OperatorError("the bus at \(base) has no /why: it predates `cascade why`")
        case 401, 403: throw OperatorError("the bus at \(base) refused the admin token (\(status)); give --admin-token")
        default: throw OperatorError("the bus at \(base) answered \(status) for /why: \(body.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200))")
        }
    }

    private func get(_ url: URL) async throws -> (Int, String) {
        do {
            let (status, body) = try await HTTPGet.fetch(url.absoluteString, token: token, timeout: timeout)
            return (status, String(decoding: body, as: UTF8.self))
        } catch {
            throw OperatorError("cannot reach the bus at \(base): \(error)")
        }
    }
}
