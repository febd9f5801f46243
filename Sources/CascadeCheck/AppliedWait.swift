import Foundation

/// `cascade publish --wait`: asks nodes, all at once, to answer `CASCADE.AFTER <token>` and
/// times each answer. Each node gets its own blocking connection on its own thread: the
/// answers come when the nodes have applied, not in turn.
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
        let password = self.password
        let timeoutMillis = self.timeoutMillis
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let started = DispatchTime.now()
                func millis() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6 }
                do {
                    let client = try NodeClient(
                        address: node.address, timeout: Double(timeoutMillis) / 1000 + 2, password: password)
                    let reply = try client.command(encodeRESPCommand("CASCADE.AFTER", token, String(timeoutMillis)))
                    switch reply {
                    case .simple("OK"):
                        continuation.resume(returning: Answer(node: node, applied: true, millis: millis(), detail: ""))
                    case .error(let message):
                        continuation.resume(returning: Answer(node: node, applied: false, millis: millis(), detail: message))
                    default:
                        continuation.resume(returning: Answer(node: node, applied: false, millis: millis(), detail: "unexpected reply \(reply)"))
                    }
                } catch {
                    continuation.resume(returning: Answer(node: node, applied: false, millis: millis(), detail: "\(error)"))
                }
            }
        }
    }
}
