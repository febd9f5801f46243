import CascadeClient
import Foundation

/// Where the nodes and the bus are. `--config F` is a JSON file with these fields (every field
/// optional, unknown ones ignored, so a `cascade dev` status file is also a valid config):
/// `{"admin": "http://bus:8080", "admin_token": "...", "requirepass": "...",
///   "nodes": {"user-service": "user-node:6379", ...}}`
public struct CheckTargets: Codable, Equatable, Sendable {
    public var admin: String?
    public var adminToken: String?
    public var requirepass: String?
    public var nodes: [String: String]

    enum CodingKeys: String, CodingKey {
        case admin, nodes, requirepass
        case adminToken = "admin_token"
    }

    public init(admin: String? = nil, adminToken: String? = nil, requirepass: String? = nil, nodes: [String: String] = [:]) {
        self.admin = admin
        self.adminToken = adminToken
        self.requirepass = requirepass
        self.nodes = nodes
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        admin = try container.decodeIfPresent(String.self, forKey: .admin)
        adminToken = try container.decodeIfPresent(String.self, forKey: .adminToken)
        requirepass = try container.decodeIfPresent(String.self, forKey: .requirepass)
        nodes = try container.decodeIfPresent([String: String].self, forKey: .nodes) ?? [:]
    }

    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Reads a config file's bytes; the problem names the file.
    public static func decode(_ data: Data, path: String) throws(Problem) -> CheckTargets {
        do {
            return try JSONDecoder().decode(CheckTargets.self, from: data)
        } catch {
            throw Problem("\(path) is not a check config: expected JSON with \"admin\" and \"nodes\" (see docs/check.md)")
        }
    }

    /// Parses `--node service=host:port`.
    public static func parseNode(_ text: String) throws(Problem) -> (service: String, address: String) {
        guard let equals = text.firstIndex(of: "=") else { throw Problem("--node '\(text)' is not service=host:port") }
        let service = String(text[..<equals])
        let address = String(text[text.index(after: equals)...])
        guard !service.isEmpty, let colon = address.lastIndex(of: ":"), colon != address.startIndex,
              let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port)
        else { throw Problem("--node '\(text)' is not service=host:port") }
        return (service, address)
    }

    /// Later sources win field by field; nodes merge by service.
    public func overridden(by other: CheckTargets) -> CheckTargets {
        CheckTargets(
            admin: other.admin ?? admin, adminToken: other.adminToken ?? adminToken,
            requirepass: other.requirepass ?? requirepass, nodes: nodes.merging(other.nodes) { $1 })
    }

    /// The problem that stops a run, if any.
    public var missing: Problem? {
        if nodes.isEmpty { return Problem("no nodes to check: give --node service=host:port, --config F or --status-file F") }
        if admin == nil { return Problem("no bus to read the ledger from: give --admin URL, --config F or --status-file F") }
        return nil
    }
}

extension CheckTargets {
    /// Where `cascade check` looks, later sources winning: the status file, the config, the
    /// flags; with none of them naming a node, the live nodes the bus lists on `/nodes`.
    public static func gather(statusFile: String?, config: String?, flags: CheckTargets, timeout: Double) async throws -> CheckTargets {
        var targets = CheckTargets()
        if let statusFile {
            let status = try StatusFile.read(statusFile)
            targets = CheckTargets(admin: status.admin, nodes: status.nodes)
        }
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else { throw OperatorError("cannot read the config file \(config)") }
            do { targets = targets.overridden(by: try CheckTargets.decode(data, path: config)) } catch { throw OperatorError(error.description) }
        }
        targets = targets.overridden(by: flags)
        targets = try await CheckAudit.discoverNodes(targets, timeout: timeout)
        if let problem = targets.missing { throw OperatorError(problem.description) }
        return targets
    }
}
