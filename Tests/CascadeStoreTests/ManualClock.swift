import Foundation

/// A clock tests move by hand, so TTL tests never sleep.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var millis: Int64 = 1_800_000_000_000

    var now: Int64 { lock.withLock { millis } }
    func advance(by delta: Int64) { lock.withLock { millis += delta } }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
