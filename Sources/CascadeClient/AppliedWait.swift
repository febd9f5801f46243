import Foundation

/// `cascade publish --wait`: asks nodes, all at once, to answer `CASCADE.AFTER <token>` and
/// times each answer. Each node gets its own connection and task: the answers come when the
/// nodes have applied, not in turn.
public struct AppliedWait: Sendable {
    public struct Node: Sendable, Hashable {
        public var service: String
        public var address: String

        public init(service: String, address: String) {
            self.service = service
            self.address = address
        }
    }

    public struct Answer: Sendable {
        public var node: Node
        public var applied: Bool
        public var millis: Double
        /// Why not, when not applied (the node's words, or why it could not be asked).
        public var detail: String
    }

    let password: String?
    let timeoutMillis: Int64

    public init(password: String?, timeoutMillis: Int64) {
        self.password = password
        self.timeoutMillis = timeoutMillis
    }

    public func ask(_ nodes: [Node], token: String) async -> [Answer] {
        await withTaskGroup(of: Answer.self) { group in
            for node in nodes {
                group.addTask { await ask(node, token: token) }
            }
            var answers: [Answer] = []
            for await answer in group { answers.append(answer) }
            return answers.sorted { ($0.node.service, $0.node.address) < ($1.node.service, $1.node.address) }
        }
    }

    private func ask(_ node: Node, token: String) async -> Answer {
        let started = ContinuousClock.now
        func millis() -> Double { (ContinuousClock.now - started).inMilliseconds }
        do {
            let client = try await NodeClient(address: node.address, timeout: Double(timeoutMillis) / 1000 + 2, password: password)
            let reply = try await client.command(encodeRESPCommand("CASCADE.AFTER", token, String(timeoutMillis)))
            switch reply {
            case .simple("OK"): return Answer(node: node, applied: true, millis: millis(), detail: "")
            case .error(let message): return Answer(node: node, applied: false, millis: millis(), detail: message)
            default: return Answer(node: node, applied: false, millis: millis(), detail: "unexpected reply \(reply)")
            }
        } catch {
            return Answer(node: node, applied: false, millis: millis(), detail: "\(error)")
        }
    }
}

extension Duration {
    /// This duration in milliseconds, fractions kept.
    var inMilliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}

extension AppliedWait {
    /// The nodes `publish --wait` asks: the live ones the bus lists on `/nodes` (at `admin`,
    /// else the status file's bus), else the status file's own list.
    public static func nodes(admin: String?, adminToken: String?, status: StatusFile?) async throws -> [Node] {
        var nodes: [Node] = []
        if let base = admin ?? status?.admin {
            let client = try AdminClient(base: base, token: adminToken, timeout: 5)
            nodes = try await client.liveNodes().map { Node(service: $0.service, address: $0.address) }
        }
        if nodes.isEmpty, let status {
            nodes = status.nodes.map { Node(service: $0.key, address: $0.value) }
        }
        guard !nodes.isEmpty else { throw OperatorError("no live nodes to wait for (the bus lists none on /nodes)") }
        return nodes
    }

    /// `applied <service> <nodes> <ms>` for each service whose nodes all applied, slowest
    /// node's time, by service.
    public static func appliedLines(_ answers: [Answer]) -> [String] {
        Dictionary(grouping: answers, by: \.node.service).sorted(by: { $0.key < $1.key })
            .filter { $0.value.allSatisfy(\.applied) }
            .map { service, group in "applied \(service) \(group.count) \(Int((group.map(\.millis).max() ?? 0).rounded()))" }
    }

    /// `not applied <service> <address>: <why>` for each node still behind.
    public static func behindLines(_ answers: [Answer]) -> [String] {
        answers.filter { !$0.applied }.map { "not applied \($0.node.service) \($0.node.address): \($0.detail)" }
    }
}
