/// A record of the edges topic: the dependencies of `key` that lie in `partition` (the
/// partition of each dependency's own name), produced to that partition. Empty: the key has no
/// edge there any more (a tombstone on the wire). Compacted per key and partition, so the last
/// record of each is the state a share rebuilds from.
public struct EdgeRecord: Sendable, Hashable {
    public var key: CacheKeyRef
    public var partition: Int32
    public var dependencies: [Dependency]
    /// When the registration behind it stored the value (ms since 1970): the race check where
    /// the record lands judges the dependencies against it. Nil on records no registration
    /// caused (a retired key's last edges going).
    public var setAtMillis: Int64?

    public init(key: CacheKeyRef, partition: Int32, dependencies: [Dependency], setAtMillis: Int64? = nil) {
        self.key = key
        self.partition = partition
        self.dependencies = dependencies
        self.setAtMillis = setAtMillis
    }
}

/// On the wire: key `service/key`, produced to `partition` (the dependencies' partition, not the
/// key's), value `{"deps":["Product#p-1@7","user-service/user:u-1:profile"]}` with each
/// dependency as a registration spells it (versions kept, for the race check where the edge
/// lands); no dependencies is a tombstone (a null value), so compaction forgets the pair.
extension EdgeRecord {
    private struct Value: Codable {
        var deps: [String]
        var setAtMillis: Int64?

        enum CodingKeys: String, CodingKey {
            case deps
            case setAtMillis = "set_at_ms"
        }
    }

    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case keyNotServiceSlashKey(String)
        case badDependency(String)

        public var description: String {
            switch self {
            case .keyNotServiceSlashKey(let key): return "edge record key '\(key)' is not service/key"
            case .badDependency(let text): return "edge record dependency '\(text)' is neither Entity#id[@version] nor service/key"
            }
        }
    }

    public var kafkaKey: [UInt8] { Array(key.description.utf8) }

    /// nil: a tombstone.
    public func encodedValue() -> [UInt8]? {
        dependencies.isEmpty ? nil : WireJSON.encode(Value(deps: dependencies.map(\.description), setAtMillis: setAtMillis))
    }

    public static func decode(key: [UInt8], value: [UInt8]?, partition: Int32) throws -> EdgeRecord {
        let text = String(decoding: key, as: UTF8.self)
        guard let ref = CacheKeyRef(parsing: text) else { throw DecodeError.keyNotServiceSlashKey(text) }
        guard let value else { return EdgeRecord(key: ref, partition: partition, dependencies: []) }
        let decoded = try plain(value) ?? WireJSON.decode(Value.self, value)
        let dependencies = try decoded.deps.map { text in
            do {
                return try Dependency.parse(text, service: ref.service)
            } catch {
                throw DecodeError.badDependency(text)
            }
        }
        return EdgeRecord(key: ref, partition: partition, dependencies: dependencies, setAtMillis: decoded.setAtMillis)
    }

    /// The value when it is plain: ASCII without escapes, one object with `deps` (strings) and
    /// maybe `set_at_ms` (a whole number or null), each once, nothing else; what the bus writes.
    /// Read without JSONDecoder, which cost more than applying the record when a share rebuilds
    /// a partition; nil otherwise, for JSONDecoder to read (and reject) as it always did.
    private static func plain(_ bytes: [UInt8]) -> Value? {
        let notPlain = JSONScanner.notPlain
        var dependencies: [Range<Int>]?
        var setAtMillis: Int64??
        let isPlain = JSONScanner.readPlainObject(bytes) { name, scanner throws(JSONScanner.Failure) in
            switch name {
            case "deps" where dependencies == nil:
                var ranges: [Range<Int>] = []
                guard try scanner.readPlainStrings({ ranges.append($0) }) else { throw notPlain }
                dependencies = ranges
            case "set_at_ms" where setAtMillis == nil:
                switch try scanner.readValue(depth: 1) {
                case .null: setAtMillis = .some(nil)
                case .number(let text):
                    guard let number = Registration.wholeNumber(text, signed: true).flatMap({ Int64($0) }) else { throw notPlain }
                    setAtMillis = .some(number)
                default: throw notPlain
                }
            default: throw notPlain
            }
        }
        guard isPlain, let dependencies else { return nil }
        return Value(deps: dependencies.map { String(decoding: bytes[$0], as: UTF8.self) }, setAtMillis: setAtMillis ?? nil)
    }
}
