@testable import CascadeBus
import CascadeWire
import Testing

@Suite("Ledger")
struct LedgerTests {
    private func entry(_ version: UInt64, origin: String = "orders") -> Ledger.Entry {
        Ledger.Entry(
            record: LedgerRecord(
                entity: "Order", id: "o-1", version: version, origin: origin, atMillis: 0, eventID: "e-\(version)", digest: 0),
            seenAtMillis: Int64(version))
    }

    /// The pipeline's one look per event: news is entered, anything else is answered with
    /// the entry that stays, which is not touched.
    @Test("enterIfNewer enters news and answers the rest with what stays")
    func enterIfNewer() {
        let ledger = Ledger()
        #expect(ledger.enterIfNewer("Order#o-1", entry(2)) == nil)
        #expect(ledger.entry("Order#o-1") == entry(2))
        #expect(ledger.enterIfNewer("Order#o-1", entry(2, origin: "other")) == entry(2))
        #expect(ledger.enterIfNewer("Order#o-1", entry(1)) == entry(2))
        #expect(ledger.entry("Order#o-1") == entry(2))
        #expect(ledger.enterIfNewer("Order#o-1", entry(3)) == nil)
        #expect(ledger.entry("Order#o-1") == entry(3))
        #expect(ledger.count == 1)
    }
}
