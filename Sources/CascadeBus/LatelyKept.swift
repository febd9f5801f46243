/// What was read lately, oldest first, with when each was read: kept for a while (at most
/// `horizonMillis`, at most `limit` of them) so that it can be judged again, or judged late.
struct LatelyKept<Element> {
    let horizonMillis: Int64
    let limit: Int
    private var items: [(atMillis: Int64, element: Element)] = []
    /// Items before this are forgotten; the array is compacted now and then, not per item.
    private var start = 0

    init(horizonMillis: Int64, limit: Int) {
        self.horizonMillis = horizonMillis
        self.limit = limit
    }

    var count: Int { items.count - start }

    mutating func append(contentsOf elements: some Sequence<Element>, atMillis: Int64) {
        for element in elements { items.append((atMillis, element)) }
        while start < items.count, items[start].atMillis < atMillis - horizonMillis || items.count - start > limit {
            start += 1
        }
        if start > 4096 && start * 2 > items.count {
            items.removeFirst(start)
            start = 0
        }
    }

    mutating func append(_ element: Element, atMillis: Int64) {
        append(contentsOf: CollectionOfOne(element), atMillis: atMillis)
    }

    /// The elements read at or after `sinceMillis`, oldest first.
    func elements(readSince sinceMillis: Int64) -> [Element] {
        items[start...].filter { $0.atMillis >= sinceMillis }.map(\.element)
    }

    /// Every element kept, oldest first.
    var elements: [Element] { items[start...].map(\.element) }

    mutating func removeAll() {
        items = []
        start = 0
    }
}

extension LatelyKept: Sendable where Element: Sendable {}
