@testable import CascadeGraph
import Testing

@Suite("Pooled lists hold what arrays would")
struct PooledListsTests {
    /// Random appends, swap-removals, replacements and clears on a few lists against plain
    /// arrays: same members after every step, and freed blocks are reused (the pool stops
    /// growing once the lists stop growing).
    @Test(arguments: 0..<10)
    func randomOperationsMatchArrays(seed: Int) {
        var random = SplitMix64(seed: UInt64(seed))
        var lists = PooledLists()
        var model: [[UInt32]] = Array(repeating: [], count: 12)
        lists.grow(to: model.count)
        var footprintAfterWarmUp = 0
        for step in 0..<6000 {
            let id = Int(random.next() % UInt64(model.count))
            switch random.next() % 10 {
            case 0..<5:
                // Up to 70 values: lists cross several size classes.
                guard model[id].count < 70 else { fallthrough }
                let value = UInt32(random.next() % 100)
                lists.append(value, to: id)
                model[id].append(value)
            case 5..<8:
                let value = UInt32(random.next() % 100)
                let removed = lists.removeFirst(id) { $0 == value }
                let position = model[id].firstIndex(of: value)
                if let position {
                    model[id].swapAt(position, model[id].count - 1)
                    model[id].removeLast()
                }
                #expect(removed == (position != nil))
            case 8:
                let values = (0..<Int(random.next() % 9)).map { _ in UInt32(random.next() % 100) }
                lists.replace(id, with: values)
                model[id] = values
            default:
                lists.removeAll(id)
                model[id] = []
            }
            #expect(lists[id].sorted() == model[id].sorted(), "step \(step)")
            #expect(lists.isEmpty(id) == model[id].isEmpty)
            if step == 3000 { footprintAfterWarmUp = lists.footprint }
        }
        for id in model.indices { #expect(lists[id].sorted() == model[id].sorted()) }
        // The lists' sizes stay bounded, so the pool must stop growing by reusing blocks.
        #expect(lists.footprint <= footprintAfterWarmUp * 2)
    }
}
