import CascadeCheck
import CascadeClient
import CascadeRESP
import Testing

/// The pure parts of `cascade check --watch`: which keys it samples, what it calls a
/// violation, and the nines it exports.
@Suite struct WatchJudgementTests {
    // MARK: Sampling

    @Test func aKeyIsAlwaysOrNeverSampled() {
        let sampler = WatchSampler(rate: 0.1)
        for index in 0..<1000 {
            let key = "product:p-\(index)"
            let first = sampler.samples(service: "catalog", key: key)
            for _ in 0..<3 { #expect(sampler.samples(service: "catalog", key: key) == first) }
            // Another sampler with the same rate (another watcher, a restart) picks the same keys.
            #expect(WatchSampler(rate: 0.1).samples(service: "catalog", key: key) == first)
        }
    }

    @Test func theSampledShareIsTheRateEvenForKeysThatDifferInTheirLastCharacters() {
        // 100,000 keys p-0 ... p-99999: at 1 % the count is binomial, sd ≈ 31.5; 5 sd either side.
        for (rate, expected) in [(0.01, 1000.0), (0.1, 10_000.0), (0.5, 50_000.0)] {
            let sampler = WatchSampler(rate: rate)
            let count = (0..<100_000).filter { sampler.samples(service: "s", key: "p-\($0)") }.count
            let sd = (100_000 * rate * (1 - rate)).squareRoot()
            #expect(abs(Double(count) - expected) < 5 * sd, "rate \(rate): \(count) of 100000")
        }
    }

    @Test func noneAtZeroEveryKeyAtOneAndNonsenseIsClamped() {
        let keys = (0..<10_000).map { "k\($0)" }
        #expect(!keys.contains { WatchSampler(rate: 0).samples(service: "s", key: $0) })
        #expect(keys.allSatisfy { WatchSampler(rate: 1).samples(service: "s", key: $0) })
        #expect(WatchSampler(rate: 7).rate == 1)
        #expect(WatchSampler(rate: -1).rate == 0)
        #expect(WatchSampler(rate: .nan).rate == 0)
    }

    @Test func theSameKeyInTwoServicesIsSampledIndependently() {
        let sampler = WatchSampler(rate: 0.5)
        let differ = (0..<1000).filter {
            sampler.samples(service: "catalog", key: "k\($0)") != sampler.samples(service: "storefront", key: "k\($0)")
        }.count
        #expect(differ > 350 && differ < 650)
    }

    // MARK: The violation

    func meta(exists: Bool = true, setAt: Int64?) -> KeyMeta {
        KeyMeta(key: Array("k".utf8), exists: exists, setAtMillis: setAt, dependencies: [])
    }

    @Test func aValueStoredBeforeTheInvalidationAndStillThereIsAViolation() {
        #expect(WatchVerdict.judge(meta(setAt: 9_000), invalidatedAtMillis: 10_000) == .violation(setAtMillis: 9_000))
        #expect(WatchVerdict.judge(meta(setAt: 9_999), invalidatedAtMillis: 10_000).isViolation)
    }

    @Test func aKeyGoneAfterTheWindowIsConsistent() {
        let verdict = WatchVerdict.judge(meta(exists: false, setAt: nil), invalidatedAtMillis: 10_000)
        #expect(verdict == .gone)
        #expect(!verdict.isViolation)
    }

    @Test func aValueStoredAgainAfterTheInvalidationIsNotAViolation() {
        #expect(WatchVerdict.judge(meta(setAt: 10_500), invalidatedAtMillis: 10_000) == .storedAfter(setAtMillis: 10_500))
        // The same millisecond: cannot be told apart, so no page.
        #expect(!WatchVerdict.judge(meta(setAt: 10_000), invalidatedAtMillis: 10_000).isViolation)
    }

    @Test func aValueWithoutASetTimeIsNotCalledAViolation() {
        #expect(!WatchVerdict.judge(meta(setAt: nil), invalidatedAtMillis: 10_000).isViolation)
    }

    @Test func theVerdictReadsTheNodesOwnReply() throws {
        // CASCADE.META as a RESP3 map: exists, set_at_ms.
        let reply = RESPValue.map([
            (.bulk("exists"), .integer(1)), (.bulk("set_at_ms"), .integer(4_000)), (.bulk("ttl_ms"), .integer(-1)),
        ])
        let parsed = try KeyMeta(key: Array("k".utf8), reply: reply)
        #expect(WatchVerdict.judge(parsed, invalidatedAtMillis: 5_000) == .violation(setAtMillis: 4_000))
    }

    // MARK: Nines

    @Test func ninesAreMinusLog10OfTheViolationShare() {
        #expect(ConsistencyNines.nines(checked: 1000, violations: 1) == 3)
        #expect(abs(ConsistencyNines.nines(checked: 100_000, violations: 3) - 4.5229) < 0.001)
        #expect(ConsistencyNines.nines(checked: 10, violations: 10) == 0)
        #expect(ConsistencyNines.nines(checked: 10, violations: 20) == 0)
    }

    @Test func noViolationIsTheCapWhateverWasChecked() {
        #expect(ConsistencyNines.nines(checked: 5, violations: 0) == ConsistencyNines.cap)
        #expect(ConsistencyNines.nines(checked: 0, violations: 0) == ConsistencyNines.cap)
        #expect(ConsistencyNines.cap == 9)
        // One in ten billion is past the cap too.
        #expect(ConsistencyNines.nines(checked: 10_000_000_000, violations: 1) == 9)
    }

    @Test func theHourForgetsWhatIsOlderThanAnHour() {
        var hour = ConsistencyNines()
        let start: Int64 = 1_700_000_000_000
        hour.record(checked: 1000, violations: 1, atMillis: start)
        hour.record(checked: 9000, violations: 0, atMillis: start + 30 * 60_000)
        #expect(hour.lastHour(atMillis: start + 30 * 60_000) == (checked: 10_000, violations: 1))
        #expect(hour.nines(atMillis: start + 30 * 60_000) == 4)
        // 60 minutes later the first minute has left the hour: no violation in it any more.
        let later = start + 60 * 60_000
        #expect(hour.lastHour(atMillis: later) == (checked: 9000, violations: 0))
        #expect(hour.nines(atMillis: later) == 9)
        // Two hours of nothing: empty, at the cap.
        #expect(hour.lastHour(atMillis: start + 120 * 60_000) == (checked: 0, violations: 0))
    }

    @Test func aBucketReusedAfterAnHourStartsAgain() {
        var hour = ConsistencyNines()
        let start: Int64 = 1_700_000_000_000
        hour.record(checked: 10, violations: 10, atMillis: start)
        // The same slot of the ring, an hour on.
        hour.record(checked: 10, violations: 0, atMillis: start + 60 * 60_000)
        #expect(hour.lastHour(atMillis: start + 60 * 60_000) == (checked: 10, violations: 0))
    }
}
