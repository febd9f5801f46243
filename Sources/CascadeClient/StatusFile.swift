import Foundation

/// What `cascade dev --status-file F` writes once everything is ready, and what `publish`,
/// `check` and `warm` read to find the broker, the bus and the nodes.
public struct StatusFile: Codable, Equatable, Sendable {
    public var kafka: String
    public var admin: String
    public var nodes: [String: String]
    public var entities: [String]
    public var topicPrefix: String
    /// The gateway's URL, with `cascade dev --gateway-upstream`.
    public var gateway: String?
    /// Every bus instance's admin API (`cascade dev --buses N`); `admin` is the first.
    public var buses: [String]?
    /// The consistency watcher's metrics URL (`/metrics` under it), as `cascade dev` runs it.
    public var watch: String?

    enum CodingKeys: String, CodingKey {
        case kafka, admin, nodes, entities, gateway, buses, watch
        case topicPrefix = "topic_prefix"
    }

    public init(
        kafka: String, admin: String, nodes: [String: String], entities: [String], topicPrefix: String, gateway: String?,
        buses: [String]? = nil, watch: String? = nil
    ) {
        self.watch = watch
        self.kafka = kafka
        self.admin = admin
        self.buses = buses
        self.nodes = nodes
        self.entities = entities
        self.topicPrefix = topicPrefix
        self.gateway = gateway
    }

    public static func read(_ path: String) throws -> StatusFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw OperatorError("cannot read the status file \(path): is `cascade dev` running?")
        }
        do {
            return try JSONDecoder().decode(StatusFile.self, from: data)
        } catch {
            throw OperatorError("\(path) is not a Cascade status file")
        }
    }

    public func write(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(self)
        // Write then rename, so a reader never sees half a file.
        let temporary = path + ".tmp"
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else { throw OperatorError("could not write \(path)") }
    }

    /// The address of `service`'s node, or a sentence listing the services it has.
    public func node(of service: String) throws -> String {
        guard let found = nodes[service] else {
            throw OperatorError("the status file has no node for \(service) (it has \(nodes.keys.sorted().joined(separator: ", ")))")
        }
        return found
    }

    /// What `cascade dev` prints once ready: endpoints and three commands to try.
    public var banner: String {
        var lines = ["cascade dev ready", "", "  kafka   \(kafka)", "  admin   \(admin)"]
        for (index, bus) in (buses ?? []).enumerated().dropFirst() { lines.append("  bus \(index)   \(bus)") }
        for (service, address) in nodes.sorted(by: { $0.key < $1.key }) {
            lines.append("  node    \(service.padding(toLength: 20, withPad: " ", startingAt: 0)) \(address)")
        }
        if let gateway { lines.append("  gateway \(gateway)") }
        if let watch { lines.append("  watch   \(watch)/metrics (consistency watcher)") }
        let productNode = nodes["product-service"] ?? nodes.values.sorted().first ?? "127.0.0.1:6380"
        let port = productNode.split(separator: ":").last.map(String.init) ?? "6380"
        lines += [
            "", "Try:",
            "  redis-cli -p \(port) SET product:p-17 '{\"name\":\"shoe\"}' EX 600 DEPS Product#p-17@41",
            "  cascade publish Product#p-17 --version 42 --kafka \(kafka)",
            "  redis-cli -p \(port) GET product:p-17        # gone",
            "  cascade graph impact Product#p-17 --live \(admin)",
        ]
        return lines.joined(separator: "\n")
    }
}
