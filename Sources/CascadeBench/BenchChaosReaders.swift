import CascadeClient
import Foundation
import NIOConcurrencyHelpers

/// The four ways a service caches a product, each a cache-aside client of the real nodes.
enum ChaosKind: Int, CaseIterable, Sendable {
    case primary, lease, secondary, cycle

    var name: String { ["primary", "lease", "secondary", "cycle"][rawValue] }
}

/// A read that returned a cached value: which product, which version, when it was sent.
struct ChaosRead: Sendable {
    var kind: ChaosKind
    var product: Int32
    var version: UInt64
    var at: UInt64
}

/// Reader tasks, each with its own connections to both nodes, reading random keys of every kind
/// at a steady pace and filling misses from the truth as cache-aside clients do.
final class ChaosReaders: Sendable {
    let truth: ChaosTruth
    let catalog: @Sendable () -> String
    let storefront: @Sendable () -> String
    let threads: Int
    let readsPerSecond: Int
    private let state = NIOLockedValueBox(State())

    private struct State {
        var stop = false
        var reads: [ChaosRead] = []
        var errors = 0
        var firstError: String?
        var finished = 0
        var waiting: CheckedContinuation<Void, Never>?
    }

    init(truth: ChaosTruth, catalog: @escaping @Sendable () -> String, storefront: @escaping @Sendable () -> String, threads: Int, readsPerSecond: Int) {
        self.truth = truth
        self.catalog = catalog
        self.storefront = storefront
        self.threads = threads
        self.readsPerSecond = readsPerSecond
    }

    func start() {
        for number in 0..<threads {
            Task.detached { [self] in
                var reader = ChaosReader(readers: self, seed: number)
                await reader.loop()
            }
        }
    }

    /// Asks every reader to stop and returns once all have handed in their reads.
    func stop() async {
        await withCheckedContinuation { continuation in
            let done = state.withLockedValue { state -> Bool in
                state.stop = true
                if state.finished == threads { return true }
                state.waiting = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }

    var reads: [ChaosRead] { state.withLockedValue { $0.reads } }
    var errors: (count: Int, first: String?) { state.withLockedValue { ($0.errors, $0.firstError) } }
    fileprivate var stopping: Bool { state.withLockedValue { $0.stop } }

    fileprivate func failed(_ error: any Error) {
        state.withLockedValue { state in
            state.errors += 1
            if state.firstError == nil { state.firstError = "\(error)" }
        }
    }

    fileprivate func finish(_ reads: [ChaosRead]) {
        let waiting = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.reads += reads
            state.finished += 1
            guard state.finished == threads else { return nil }
            defer { state.waiting = nil }
            return state.waiting
        }
        waiting?.resume()
    }
}

/// One reader's connections and the cache-aside logic of each kind.
private struct ChaosReader {
    let readers: ChaosReaders
    var truth: ChaosTruth { readers.truth }
    var catalog: NodeClient?
    var storefront: NodeClient?
    var reads: [ChaosRead] = []
    var generator = SystemRandomNumberGenerator()
    let seed: Int

    init(readers: ChaosReaders, seed: Int) {
        self.readers = readers
        self.seed = seed
    }

    mutating func loop() async {
        let interval = Double(readers.threads) / Double(max(1, readers.readsPerSecond))
        var next = Date().addingTimeInterval(interval * Double(seed) / Double(readers.threads))
        var operation = seed
        while !readers.stopping {
            // Paced, not waiting for a condition: the next read is due at `next`.
            try? await Task.sleep(for: .seconds(max(0, next.timeIntervalSinceNow)))
            next = max(next.addingTimeInterval(interval), Date().addingTimeInterval(-interval))
            let product = Int.random(in: 0..<truth.products, using: &generator)
            let kind = ChaosKind.allCases[operation % ChaosKind.allCases.count]
            operation += 1
            do {
                switch kind {
                case .primary: _ = try await primary(product)
                case .lease: try await lease(product)
                case .secondary: try await secondary(product)
                case .cycle: if Bool.random(using: &generator) { _ = try await cycleA(product) } else { try await cycleB(product) }
                }
            } catch {
                readers.failed(error)
                // A node restarting: reconnect on the next operation, after a short pause.
                catalog = nil
                storefront = nil
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        readers.finish(reads)
    }

    private mutating func node(_ service: String) async throws -> NodeClient {
        if service == "catalog" {
            if let catalog { return catalog }
            let client = try await NodeClient(address: readers.catalog(), timeout: 5, password: nil)
            catalog = client
            return client
        }
        if let storefront { return storefront }
        let client = try await NodeClient(address: readers.storefront(), timeout: 5, password: nil)
        storefront = client
        return client
    }

    /// GET; a cached version is recorded as a read.
    private mutating func get(_ service: String, _ key: String, kind: ChaosKind, product: Int) async throws -> UInt64? {
        let at = chaosNow()
        let reply = try await node(service).command(encodeRESPCommand("GET", key))
        switch reply {
        case .bulk(let buffer):
            let bytes = buffer.readableBytesView
            guard let version = UInt64(String(decoding: bytes, as: UTF8.self)) else {
                throw OperatorError("\(key) holds '\(String(decoding: bytes.prefix(40), as: UTF8.self))', not a version")
            }
            reads.append(ChaosRead(kind: kind, product: Int32(product), version: version, at: at))
            return version
        case .null: return nil
        default: throw OperatorError("GET \(key) answered \(reply)")
        }
    }

    /// SET with DEPS; -STALE (a fence refused an old value) is an answer, not a failure.
    private mutating func set(_ service: String, _ arguments: [String]) async throws {
        let reply = try await node(service).command(encodeRESPCommand(arguments.map { Array($0.utf8) }))
        if case .error(let message) = reply, !message.hasPrefix("STALE"), !message.hasPrefix("NOLEASE") {
            throw OperatorError("\(arguments[0]) \(arguments[1]) answered -\(message)")
        }
    }

    /// product:{id} on catalog, computed from the truth with a versioned entity dependency.
    mutating func primary(_ product: Int) async throws -> UInt64 {
        let id = ChaosTruth.id(product)
        if let cached = try await get("catalog", "product:\(id)", kind: .primary, product: product) { return cached }
        let version = truth.version(product)
        try await set("catalog", ["SET", "product:\(id)", String(version), "EX", "600", "DEPS", "Product#\(id)@\(version)"])
        return version
    }

    /// price:{id} on catalog through a lease.
    mutating func lease(_ product: Int) async throws {
        let id = ChaosTruth.id(product)
        let at = chaosNow()
        let reply = try await node("catalog").command(encodeRESPCommand("LEASE.GET", "price:\(id)", "DEPS", "Product#\(id)"))
        guard case .array(let parts) = reply, parts.count == 2 else { throw OperatorError("LEASE.GET price:\(id) answered \(reply)") }
        if let text = parts[0].text {
            guard let version = UInt64(text) else { throw OperatorError("price:\(id) holds '\(text)', not a version") }
            reads.append(ChaosRead(kind: .lease, product: Int32(product), version: version, at: at))
            return
        }
        guard let token = parts[1].text else { throw OperatorError("LEASE.GET price:\(id) gave neither value nor token: \(reply)") }
        let version = truth.version(product)
        try await set("catalog", ["LEASE.SET", "price:\(id)", token, String(version), "EX", "600", "DEPS", "Product#\(id)@\(version)"])
    }

    /// page:{id} on storefront, computed from catalog's product:{id}, depending on that key.
    mutating func secondary(_ product: Int) async throws {
        let id = ChaosTruth.id(product)
        if try await get("storefront", "page:\(id)", kind: .secondary, product: product) != nil { return }
        let version = try await primary(product)
        try await set("storefront", ["SET", "page:\(id)", String(version), "EX", "600", "DEPS", "catalog/product:\(id)"])
    }

    /// a:{id} on catalog: from the truth, and from storefront's b:{id} (a registration cycle).
    mutating func cycleA(_ product: Int) async throws -> UInt64 {
        let id = ChaosTruth.id(product)
        if let cached = try await get("catalog", "a:\(id)", kind: .cycle, product: product) { return cached }
        let version = truth.version(product)
        try await set("catalog", ["SET", "a:\(id)", String(version), "EX", "600", "DEPS", "Product#\(id)@\(version)", "storefront/b:\(id)"])
        return version
    }

    /// b:{id} on storefront, computed from catalog's a:{id}.
    mutating func cycleB(_ product: Int) async throws {
        let id = ChaosTruth.id(product)
        if try await get("storefront", "b:\(id)", kind: .cycle, product: product) != nil { return }
        let version = try await cycleA(product)
        try await set("storefront", ["SET", "b:\(id)", String(version), "EX", "600", "DEPS", "catalog/a:\(id)"])
    }
}
