/// Keys whose value went while nothing depended on them, in the order they went, each with when
/// its grace ends. Their edges stay until then: a value computed from one of them just before it
/// went may register on it after, and a change of what the key was computed from must still reach
/// that value through the key. Without the grace such a value finds the key bare, judged fresh
/// where it lands, and the next change passes it by.
///
/// An entry is a claim only: its owner keeps the key's grace end, and an entry whose time no
/// longer matches it (the key stored again, or gone once more since) is skipped.
struct GraceQueue<Key: Hashable & Sendable>: Sendable {
    struct Entry: Sendable {
        var key: Key
        var untilMillis: Int64
    }

    private var entries: [Entry] = []
    private var head = 0

    var count: Int { entries.count - head }

    mutating func append(_ key: Key, untilMillis: Int64) {
        entries.append(Entry(key: key, untilMillis: untilMillis))
    }

    /// Takes the entries whose grace ended by `nowMillis`, oldest first. Keys gone out of order
    /// (clocks of several nodes) wait behind an earlier one: kept a little longer, never less.
    mutating func takeEnded(nowMillis: Int64) -> [Entry] {
        var ended: [Entry] = []
        while head < entries.count, entries[head].untilMillis <= nowMillis {
            ended.append(entries[head])
            head += 1
        }
        if head > 1024, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return ended
    }
}
