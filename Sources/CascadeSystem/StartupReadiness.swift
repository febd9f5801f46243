import CascadeSync
import NIOConcurrencyHelpers

/// Collects the readiness of a `LocalSystem`'s parts: a node per service, the gateway, each
/// bus instance; `awaitAll` returns once every one is ready.
public final class StartupReadiness: Sendable {
    public struct Ready: Sendable {
        /// The first bus instance's admin API.
        public var admin: String
        /// Every bus instance's admin API, in order.
        public var buses: [String]
        public var nodes: [String: String]
        public var gateway: String?
    }

    private struct State {
        var listening: [String: String] = [:]
        var ready: Set<String> = []
        var buses: [Int: String] = [:]
        var gateway: String?
    }

    private let services: Set<String>
    private let expectsGateway: Bool
    private let buses: Int
    private let state = NIOLockedValueBox(State())
    /// Moves on every report.
    private let reported = ChangeSignal()

    /// `gateway`: a gateway must say it is ready too; `buses`: how many bus instances.
    public init(services: [String], gateway: Bool = false, buses: Int = 1) {
        self.services = Set(services)
        self.expectsGateway = gateway
        self.buses = buses
    }

    public func gatewayReady(_ url: String) { update { $0.gateway = url } }

    public func nodeListening(_ service: String, address: String) { update { $0.listening[service] = address } }
    public func nodeReady(_ service: String) { update { $0.ready.insert(service) } }
    public func busReady(admin: String, instance: Int = 0) { update { $0.buses[instance] = admin } }

    /// Everything is ready, or nil once the task is cancelled.
    public func awaitAll() async -> Ready? {
        var ready: Ready?
        _ = await reported.wait {
            ready = state.withLockedValue { complete($0) }
            return ready != nil
        }
        return ready
    }

    private func update(_ change: (inout State) -> Void) {
        state.withLockedValue { change(&$0) }
        reported.changed()
    }

    private func complete(_ state: State) -> Ready? {
        guard state.buses.count == buses, let admin = state.buses[0], state.ready == services, Set(state.listening.keys) == services,
              !expectsGateway || state.gateway != nil
        else { return nil }
        return Ready(admin: admin, buses: state.buses.sorted { $0.key < $1.key }.map(\.value), nodes: state.listening, gateway: state.gateway)
    }
}
