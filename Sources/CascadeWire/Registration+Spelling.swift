extension Registration {
    /// Reads a registration as nodes write it straight into `batch`: its names spelled from the
    /// message's bytes, with no String or `Dependency` for any of them (how the bus rebuilds its
    /// index). True when `bytes` are a plain document (see `plain`), and then `batch` holds what
    /// `batch.append(decode(bytes))` would; false, with nothing appended, for anything else:
    /// read those with `decode`.
    public static func spell(_ bytes: [UInt8], into batch: inout SpelledRegistrations) -> Bool {
        guard let fields = PlainFields.read(bytes, dependencies: &batch.scratchRanges) else {
            batch.scratchRanges.removeAll(keepingCapacity: true)
            return false
        }
        batch.appendPlain(bytes, service: fields.service, key: fields.key, owner: fields.owner)
        return true
    }

    /// Where the fields of a plain document lie (see `plain`): the one definition of plain, for
    /// `plain` (which makes Strings of them) and `spell` (which spells names from them).
    struct PlainFields {
        var service: Range<Int>
        var key: Range<Int>
        var setAtMillis: Int64
        var lease: Bool
        var node: Range<Int>?
        var incarnation: UInt64?

        var owner: (node: Range<Int>, incarnation: UInt64)? {
            guard let node, let incarnation else { return nil }
            return (node, incarnation)
        }

        /// The fields of `bytes` when they are a plain document, the places of its dependencies
        /// appended to `dependencies`; nil otherwise (`dependencies` may then hold some).
        static func read(_ bytes: [UInt8], dependencies: inout [Range<Int>]) -> PlainFields? {
            var seen = Seen()
            let isPlain = JSONScanner.readPlainObject(bytes) { name, scanner throws(JSONScanner.Failure) in
                guard try seen.read(name, &scanner, dependencies: &dependencies) else { throw JSONScanner.notPlain }
            }
            guard isPlain, let service = seen.service, let key = seen.key, seen.hasDependencies, let setAtMillis = seen.setAtMillis,
                  let lease = seen.lease
            else { return nil }
            return PlainFields(
                service: service, key: key, setAtMillis: setAtMillis, lease: lease, node: seen.node ?? nil,
                incarnation: seen.incarnation ?? nil)
        }
    }

    /// The fields of a plain document seen so far: each known one at most once.
    private struct Seen {
        var service: Range<Int>?
        var key: Range<Int>?
        var hasDependencies = false
        var setAtMillis: Int64?
        var lease: Bool?
        var node: Range<Int>??
        var incarnation: UInt64??

        /// Reads field `name`'s value; false when it makes the document other than plain.
        mutating func read(_ name: String, _ scanner: inout JSONScanner, dependencies: inout [Range<Int>]) throws(JSONScanner.Failure) -> Bool {
            switch name {
            case "service" where service == nil:
                service = try scanner.readPlainString()
                return service != nil
            case "key" where key == nil:
                key = try scanner.readPlainString()
                return key != nil
            case "deps" where !hasDependencies:
                hasDependencies = true
                return try scanner.readPlainStrings { dependencies.append($0) }
            case "set_at_ms" where setAtMillis == nil:
                guard case .number(let text) = try scanner.readValue(depth: 1) else { return false }
                setAtMillis = wholeNumber(text, signed: true).flatMap { Int64($0) }
                return setAtMillis != nil
            case "lease" where lease == nil:
                guard case .bool(let flag) = try scanner.readValue(depth: 1) else { return false }
                lease = flag
                return true
            case "node" where node == nil:
                if let text = try scanner.readPlainString() {
                    node = .some(text)
                    return true
                }
                guard case .null = try scanner.readValue(depth: 1) else { return false }
                node = .some(nil)
                return true
            case "inc" where incarnation == nil:
                switch try scanner.readValue(depth: 1) {
                case .null: incarnation = .some(nil)
                case .number(let text):
                    guard let number = wholeNumber(text, signed: false).flatMap({ UInt64($0) }) else { return false }
                    incarnation = .some(number)
                default: return false
                }
                return true
            default:
                return false
            }
        }
    }
}

extension SpelledRegistrations {
    /// A plain registration read by `Registration.spell`: its key, its dependencies (whose
    /// places wait in `scratchRanges`) parsed as `Dependency.parse` parses ASCII text, those it
    /// rejects left out, and its owner.
    mutating func appendPlain(_ source: [UInt8], service: Range<Int>, key: Range<Int>, owner: (node: Range<Int>, incarnation: UInt64)?) {
        let first = Int32(truncatingIfNeeded: dependencies.count)
        for text in scratchRanges {
            if let dependency = spellDependency(source[text], service: source[service]) { appendDependency(dependency) }
        }
        scratchRanges.removeAll(keepingCapacity: true)
        appendItem(Item(
            key: spell(head: source[service], separator: "/", tail: source[key]), isTombstone: false, firstDependency: first,
            dependencyCount: Int32(truncatingIfNeeded: dependencies.count) - first, node: owner.map { spell(source[$0.node]) },
            incarnation: owner?.incarnation ?? 0))
    }

    /// `Dependency.parse` over ASCII bytes: `Entity#id[@version]` (the version a whole number,
    /// one `@` only), `service/key`, or a bare key of `service`. Nil where it throws.
    private mutating func spellDependency(_ text: ArraySlice<UInt8>, service: ArraySlice<UInt8>) -> Dependency? {
        guard !text.isEmpty else { return nil }
        if text.contains(UInt8(ascii: "#")) {
            var body = text
            if let at = text.lastIndex(of: UInt8(ascii: "@")) {
                guard UInt64(String(decoding: text[(at + 1)...], as: UTF8.self)) != nil else { return nil }
                body = text[..<at]
            }
            guard let hash = body.firstIndex(of: UInt8(ascii: "#")), hash > body.startIndex, hash + 1 < body.endIndex,
                  !body[(hash + 1)...].contains(UInt8(ascii: "@"))
            else { return nil }
            return Dependency(name: spell(head: body[..<hash], separator: "#", tail: body[(hash + 1)...]), isEntity: true)
        }
        if let slash = text.firstIndex(of: UInt8(ascii: "/")), slash > text.startIndex, slash + 1 < text.endIndex {
            return Dependency(name: spell(head: text[..<slash], separator: "/", tail: text[(slash + 1)...]), isEntity: false)
        }
        return Dependency(name: spell(head: service, separator: "/", tail: text), isEntity: false)
    }
}
