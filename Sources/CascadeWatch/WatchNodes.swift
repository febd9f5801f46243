import CascadeClient
import Synchronization

/// The node addresses the watcher asks, by service: given once (status file, config, flags,
/// `cascade dev`), or the live nodes the bus lists on `/nodes`, asked again every few seconds
/// so that replicas that come and go are followed.
public final class WatchNodes: Sendable {
    private let addresses = Mutex<[String: [String]]>([:])
    private let admin: AdminClient?

    /// Fixed addresses, one node per service.
    public init(fixed: [String: String]) {
        addresses.withLock { $0 = fixed.mapValues { [$0] } }
        admin = nil
    }

    /// Discovered from the bus's `/nodes`.
    public init(discoveringFrom admin: AdminClient) {
        self.admin = admin
    }

    public var discovers: Bool { admin != nil }

    public func nodes(of service: String) -> [String] {
        addresses.withLock { $0[service] ?? [] }
    }

    public func set(_ service: String, _ nodes: [String]) {
        addresses.withLock { $0[service] = nodes }
    }

    public var services: [String] { addresses.withLock { $0.keys.sorted() } }

    /// Asks the bus again; keeps what it had when the bus does not answer.
    func refresh() async throws {
        guard let admin else { return }
        let live = try await admin.liveNodes()
        var found: [String: [String]] = [:]
        for node in live { found[node.service, default: []].append(node.address) }
        addresses.withLock { $0 = found.mapValues { $0.sorted() } }
    }
}
