@testable import CascadeBus
import CascadeGraph
import CascadeWire
import Foundation
import Testing

/// Figures, not assertions: how long the race check takes over a long chain of late
/// registrations, and how much memory it adds (issue 23). Run alone, so that the process's
/// resident set is this test's:
/// `CASCADE_RACE_FIGURES=1 swift test --skip-build --filter RaceCheckChainFigures`
@Suite("Race check over a long chain: figures", .serialized, .enabled(if: ProcessInfo.processInfo.environment["CASCADE_RACE_FIGURES"] == "1"))
struct RaceCheckChainFigures {
    @Test(arguments: [(20_000, 20_000), (20_000, 4_096)])
    func chain(links: Int, wave: Int) async throws {
        let fixture = try PipelineFixture()
        let processor = fixture.processor
        let check = RegistrationRaceCheck(
            ledger: processor.ledger, index: processor.index, planner: processor.planner,
            recent: processor.recentInvalidations, windowMillis: 2000)
        // The root changes; the chain is stored 0.3 s later, the root named without a version.
        _ = fixture.process(PipelineFixture.event("Product", "p-1", version: 2), nowMillis: 10_000)
        let chain = RaceCheckChain(links: links, setAtMillis: 10_300)
        let startRSS = ProcessMemory.resetPeak()
        var checkTime = Duration.zero
        var sent = (messages: 0, bytes: 0)
        var total = RegistrationRaceCheck.Wave.Counts()
        for first in stride(from: 0, to: links, by: wave) {
            let batch = Array(chain.registrations[first..<min(links, first + wave)])
            // As the follower: the batch enters the index, then it is checked as one wave.
            for registration in batch { processor.index.register(registration) }
            let started = ContinuousClock.now
            let counts = await check.check(batch, nowMillis: { 10_400 }) { messages in
                sent.messages += messages.count
                sent.bytes += messages.reduce(0) { $0 + ($1.value?.count ?? 0) }
            }
            checkTime += ContinuousClock.now - started
            total.stale += counts.stale
            total.visits += counts.visits
        }
        let peakRSS = ProcessMemory.peak()
        print(
            "race check, \(links)-link chain in waves of \(wave): \(checkTime) checking, \(total.stale) stale, "
                + "\(total.visits) keys looked at, \(sent.messages) messages (\(sent.bytes / 1_000) kB), "
                + "resident set +\((peakRSS - startRSS) / 1_000_000) MB at its peak")
    }
}

/// k1 ← k2 ← … ← kN: k1 is computed from `Product#p-1` (no version), each next link from the
/// one before, on another service.
struct RaceCheckChain {
    static let services = ["product-service", "order-service", "user-service", "analytics-service"]
    let registrations: [Registration]

    init(links: Int, setAtMillis: Int64) {
        func service(_ link: Int) -> String { Self.services[link % Self.services.count] }
        registrations = (0..<links).map { link in
            Registration(
                service: service(link), key: "chain:\(link)",
                deps: [link == 0 ? "Product#p-1" : "\(service(link - 1))/chain:\(link - 1)"], setAtMillis: setAtMillis)
        }
    }
}

/// The process's resident set, from /proc (Linux); 0 elsewhere.
enum ProcessMemory {
    /// Resets the peak (VmHWM) to the current resident set, and returns that.
    static func resetPeak() -> Int {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        return field("VmRSS:")
    }

    /// The peak resident set since the last reset.
    static func peak() -> Int { field("VmHWM:") }

    private static func field(_ name: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) })
        else { return 0 }
        let fields = line.split { $0 == " " || $0 == "\t" }
        return (fields.dropFirst().first.flatMap { Int($0) } ?? 0) * 1024
    }
}
