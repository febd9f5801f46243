import CascadeGraph
import Testing

/// Each key's newest `set_at_ms` among the edge records that landed in a share lately.
@Suite struct NewestRegistrationsTests {
    @Test("what landed is forgotten after the horizon, and a key noted again since is kept")
    func boundedByTime() {
        let newest = NewestRegistrations(horizonMillis: 1000)
        #expect(!newest.isSuperseded("a", setAtMillis: 500, nowMillis: 0))
        #expect(!newest.isSuperseded("b", setAtMillis: 500, nowMillis: 0))
        #expect(!newest.isSuperseded("b", setAtMillis: 900, nowMillis: 800))
        #expect(newest.isSuperseded("b", setAtMillis: 600, nowMillis: 1500), "b's newer record landed 700 ms ago")
        #expect(newest.count == 1, "a is forgotten")
        #expect(!newest.isSuperseded("a", setAtMillis: 100, nowMillis: 1600))
        #expect(!newest.isSuperseded("b", setAtMillis: 100, nowMillis: 2000), "b's newer record is past the horizon")
    }
}
