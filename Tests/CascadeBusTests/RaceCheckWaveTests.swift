@testable import CascadeBus
import CascadeGraph
import CascadeWire
import Testing

/// Issue 23: a chain of late registrations made the race check quadratic. These check the
/// follower's path (`RegistrationRaceCheck.check(_:send:)`, one wave per polled batch) without
/// Kafka: each key is invalidated at most once per wave, and the work is linear.
@Suite("The race check is linear per wave: each key invalidated at most once, however long the chain")
struct RaceCheckWaveTests {
    let fixture: PipelineFixture
    let check: RegistrationRaceCheck

    init() throws {
        fixture = try PipelineFixture()
        let processor = fixture.processor
        check = RegistrationRaceCheck(
            ledger: processor.ledger, index: processor.index, planner: processor.planner,
            recent: processor.recentInvalidations, windowMillis: 2000)
        // The root changes; what follows is stored 0.3 s later, naming it without a version.
        _ = fixture.process(PipelineFixture.event("Product", "p-1", version: 2), nowMillis: 10_000)
    }

    /// What one wave invalidated: `service/key` → how many times, and how many sends.
    struct Outcome {
        var invalidated: [String: Int] = [:]
        var sends: [Int] = []
        var counts = RegistrationRaceCheck.Wave.Counts()
    }

    /// As the follower: the batch enters the index, then it is checked as one wave.
    func wave(_ batch: some Collection<Registration>, chunk: Int = 256) async throws -> Outcome {
        for registration in batch { fixture.processor.index.register(registration) }
        var sent: [[OutboundMessage]] = []
        var outcome = Outcome()
        outcome.counts = await check.check(Array(batch), chunk: chunk, nowMillis: { 10_400 }) { sent.append($0) }
        for messages in sent {
            outcome.sends.append(messages.count)
            for message in messages {
                let service = message.topic.dropFirst("cascade.inval.".count)
                for target in try InvalidationMessage.decode(message.value ?? []).keys {
                    outcome.invalidated[service + "/" + target.key, default: 0] += 1
                }
            }
        }
        return outcome
    }

    @Test("a 20,000-link chain, in one wave or in several: every link invalidated once, the keys looked at ≤ links + edges",
          arguments: [20_000, 4_096, 1_000])
    func longChain(waveSize: Int) async throws {
        let links = 20_000
        let chain = RaceCheckChain(links: links, setAtMillis: 10_300).registrations
        var total = RegistrationRaceCheck.Wave.Counts()
        var waves = 0
        for first in stride(from: 0, to: links, by: waveSize) {
            let batch = chain[first..<min(links, first + waveSize)]
            let outcome = try await wave(batch)
            let names = Set(batch.map { $0.service + "/" + $0.key })
            #expect(Set(outcome.invalidated.keys) == names, "wave \(waves) invalidates its own links, and only them")
            #expect(outcome.invalidated.values.allSatisfy { $0 == 1 }, "wave \(waves): a link invalidated twice")
            total.checked += outcome.counts.checked
            total.stale += outcome.counts.stale
            total.skipped += outcome.counts.skipped
            total.visits += outcome.counts.visits
            waves += 1
        }
        // One link per wave is found stale (the first, on the root or on the last link of the
        // wave before); its closure takes the rest of the wave.
        #expect(total.stale == waves && total.skipped == links - waves && total.checked == links)
        let edges = links
        #expect(total.visits <= links + edges, "\(total.visits) keys looked at")
    }

    @Test("a late chain falls within one wave whatever the order of its registrations", arguments: [false, true])
    func lateChainInOneWave(reversed: Bool) async throws {
        let chain = RaceCheckChain(links: 3, setAtMillis: 10_300).registrations
        let outcome = try await wave(reversed ? chain.reversed() : chain)
        #expect(outcome.invalidated == Dictionary(uniqueKeysWithValues: chain.map { ($0.service + "/" + $0.key, 1) }))
        #expect(outcome.counts.stale == 1 && outcome.counts.skipped == (reversed ? 0 : 2))
    }

    @Test("a key registered twice in a wave is checked once; what the wave invalidated counts for the next")
    func laterRegistrationsSeeTheWavesRecords() async throws {
        let registrations = [
            Registration(service: "product-service", key: "a", deps: ["Product#p-1"], setAtMillis: 10_300),
            Registration(service: "order-service", key: "b", deps: ["product-service/a"], setAtMillis: 10_300),
            Registration(service: "product-service", key: "a", deps: ["Product#p-1"], setAtMillis: 10_350),
        ]
        let outcome = try await wave(registrations)
        #expect(outcome.invalidated == ["product-service/a": 1, "order-service/b": 1])
        #expect(outcome.counts.stale == 1 && outcome.counts.skipped == 2)
        // The next wave: b registered again, computed from a after its invalidation.
        let again = try await wave([Registration(service: "order-service", key: "b", deps: ["product-service/a"], setAtMillis: 10_380)])
        #expect(again.invalidated == ["order-service/b": 1], "a was invalidated at 10,400: b may have read it before")
    }

    @Test("messages go out in chunks as they are planned, not all at the end")
    func chunks() async throws {
        let registrations = (0..<50).map {
            Registration(service: RaceCheckChain.services[$0 % 4], key: "alone:\($0)", deps: ["Product#p-1"], setAtMillis: 10_300)
        }
        let outcome = try await wave(registrations, chunk: 8)
        #expect(outcome.invalidated.count == 50 && outcome.invalidated.values.allSatisfy { $0 == 1 })
        #expect(outcome.counts.stale == 50)
        #expect(outcome.sends.count == 7 && outcome.sends.allSatisfy { $0 <= 8 }, "\(outcome.sends)")
    }
}
