@testable import CascadeBus
import CascadeWire
import Testing

/// The credit an event's hops carry: its span is acknowledged when all of it is back, each
/// piece counted once, and a hop's credit goes back only after its own messages are delivered.
@Suite struct HopCreditsTests {
    let origin = HopCredit.Origin(partition: 3, offset: 41, ticket: 7)

    @Test("credit split down a tree comes back whole, in any order, each piece once")
    func creditComesBackWhole() {
        let credits = HopCredits()
        #expect(credits.began(sequence: 1, messages: 4, owed: [origin], returns: []) == nil)
        // The event's two hops; the first hands two on and keeps a part.
        let hops = HopCredits.split(HopCredits.whole, into: 2)
        let first = HopCredits.split(hops[0], into: 3)
        let pieces = [
            HopCredit(origin: origin, credit: first[0], piece: HopCredit.piece(of: 10, 0)),
            HopCredit(origin: origin, credit: first[1], piece: HopCredit.piece(of: 10, 1)),
            HopCredit(origin: origin, credit: hops[1], piece: HopCredit.piece(of: 20, 0)),
        ]
        for piece in pieces { #expect(credits.returned(piece) == nil) }
        // The same piece again (its hop consumed again after a crash) counts nothing.
        #expect(credits.returned(pieces[1]) == nil)
        #expect(credits.returned(HopCredit(origin: origin, credit: first[2], piece: HopCredit.piece(of: 10, 2))) == 1)
        // Another attempt's ticket is not this one's.
        let stranger = HopCredit.Origin(partition: 3, offset: 41, ticket: 8)
        #expect(credits.returned(HopCredit(origin: stranger, credit: HopCredits.whole, piece: 1)) == nil)
    }

    @Test("a span's credit goes back once its own messages are delivered, at once when it has none")
    func returnsFollowDelivery() {
        let credits = HopCredits()
        let back = HopCredit(origin: origin, credit: 5, piece: 9)
        #expect(credits.began(sequence: 2, messages: 2, owed: [], returns: [back]) == nil)
        #expect(credits.delivered(sequence: 2) == nil)
        // After the span's two messages: tokens from position 2 on.
        #expect(credits.delivered(sequence: 2) == HopCredits.Due(sequence: 2, position: 2, credits: [back]))
        #expect(credits.delivered(sequence: 2) == nil, "sent once")
        #expect(credits.began(sequence: 3, messages: 0, owed: [], returns: [back]) == HopCredits.Due(sequence: 3, position: 0, credits: [back]))
    }

    @Test("a partition given up owes nothing any more; splits add up")
    func forgetAndSplit() {
        let credits = HopCredits()
        _ = credits.began(sequence: 4, messages: 1, owed: [origin], returns: [])
        credits.forget(partitions: [3])
        #expect(credits.returned(HopCredit(origin: origin, credit: HopCredits.whole, piece: 1)) == nil)
        for parts in [1, 2, 3, 7, 100] {
            #expect(HopCredits.split(HopCredits.whole, into: parts).reduce(0, +) == HopCredits.whole)
        }
    }
}
