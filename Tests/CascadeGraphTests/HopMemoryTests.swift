@testable import CascadeGraph
import Testing

/// What a share remembers per root decides whether a hop is expanded again (a cycle across
/// shares ends only if it is not) and what a later hop of the root skips.
@Suite struct HopMemoryTests {
    let first = HopMemory.key(of: "Product#p-1@3 cascade.events/0@17")
    let second = HopMemory.key(of: "Product#p-1@4 cascade.events/0@18")

    @Test func aNameIsExpandedOncePerRoot() {
        var memory = HopMemory(capacity: 10)
        let answers = [
            memory.firstExpansion(root: first, name: 7), memory.firstExpansion(root: first, name: 7),
            // Another root, or another name of the same root, is new.
            memory.firstExpansion(root: second, name: 7), memory.firstExpansion(root: first, name: 8),
        ]
        #expect(answers == [true, false, true, true])
    }

    @Test func namesNotedForARootAreWhatItsLaterHopsSkip() {
        var memory = HopMemory(capacity: 10)
        memory.note(root: first, names: [1, 2, 3])
        memory.note(root: first, names: [4])
        #expect(Set(memory.names(of: first)) == [1, 2, 3, 4])
        #expect(memory.names(of: second).isEmpty)
        // A name noted by a closure is not expanded again by a hop.
        let again = memory.firstExpansion(root: first, name: 2)
        #expect(!again)
    }

    @Test func theOldestRootsAreForgottenFirst() {
        var memory = HopMemory(capacity: 3)
        let roots = (0..<5).map { HopMemory.key(of: "root-\($0)") }
        for root in roots { memory.note(root: root, names: [42]) }
        #expect(memory.names(of: roots[0]).isEmpty)
        #expect(memory.names(of: roots[1]).isEmpty)
        for root in roots[2...] { #expect(memory.names(of: root) == [42]) }
        // Noting more for a remembered root does not forget it.
        memory.note(root: roots[2], names: [43])
        #expect(memory.names(of: roots[2]) == [42, 43])
    }

    @Test func noNamesNoteNoRoot() {
        var memory = HopMemory(capacity: 1)
        memory.note(root: first, names: [1])
        memory.note(root: second, names: [UInt64]())
        #expect(memory.names(of: first) == [1])
    }
}
