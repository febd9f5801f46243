/// Insertion-ordered record of when each item was last written, so a table can forget items
/// older than a retention time or beyond a count, oldest first, in O(1) amortised.
struct RetentionQueue<Item: Hashable> {
    private var items: [(item: Item, atMillis: Int64)] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }

    mutating func append(_ item: Item, atMillis: Int64) {
        items.append((item, atMillis))
    }

    /// Pops the oldest records while `shouldDrop` says so; `forget` is called with each, and
    /// decides itself whether the item was rewritten later (then it keeps it).
    mutating func drop(while shouldDrop: (Int64) -> Bool, forget: (Item, Int64) -> Void) {
        while head < items.count, shouldDrop(items[head].atMillis) {
            forget(items[head].item, items[head].atMillis)
            head += 1
        }
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    mutating func removeAll() {
        items = []
        head = 0
    }
}

extension RetentionQueue: Sendable where Item: Sendable {}
