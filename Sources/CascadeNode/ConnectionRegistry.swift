import NIOConcurrencyHelpers
import NIOCore

/// The open client connections: caps their number and lets shutdown ask each to finish.
final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Adds a connection; false when the limit is reached.
    func add(_ channel: any Channel) -> Bool {
        channels.withLockedValue { open in
            guard open.count < limit else { return false }
            open[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func remove(_ channel: any Channel) {
        _ = channels.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var all: [any Channel] { channels.withLockedValue { Array($0.values) } }
}
