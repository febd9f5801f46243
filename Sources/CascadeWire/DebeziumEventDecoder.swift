/// Debezium's JSON change envelope (`before`, `after`, `source`, `op`, `ts_ms`), bare or inside
/// the JSON converter's `{"schema": ..., "payload": ...}` wrapper, for one table mapped to one
/// entity. The schema is checked as JSON and skipped, never built.
///
/// - id: the message key's only field (bare or wrapped), or the field named `idField`, looked
///   up in the key first and in the row (`after`, or `before` on a delete) after.
/// - version: the source position, which grows along the database's log: PostgreSQL's `lsn`;
///   MySQL's binlog file sequence number times 2^32 plus `pos` (a binlog file stays below
///   4 GiB); else `ts_ms` (the source's, then the envelope's) as the last resort.
/// - op: c, u, d, r → create, update, delete, update (a snapshot read says "this is the row
///   now", which may differ from anything cached).
/// - attrs: the scalar columns of `after` (`before` on a delete) as text; nested values skipped.
/// - origin: `source.name` (the connector's logical server name), else "debezium".
/// - a null value (the tombstone Debezium writes after a delete for compaction) is skipped.
public struct DebeziumEventDecoder: DomainEventDecoder {
    public let entity: String
    public let idField: String?
    public var maxBytes: Int

    public init(entity: String, idField: String? = nil, maxBytes: Int = 1024 * 1024) {
        self.entity = entity
        self.idField = idField
        self.maxBytes = maxBytes
    }

    public func decode(_ message: SourceMessage) throws(EventRejection) -> DecodedMessage {
        guard let value = message.value else { return .skip(reason: "tombstone") }
        guard value.count <= maxBytes else {
            throw EventRejection("oversize", "event is \(value.count) bytes, the limit is \(maxBytes)")
        }
        var envelope = Envelope()
        do {
            var scanner = JSONScanner(bytes: value)
            guard var top = try scanner.enterObject() else {
                var whole = JSONScanner(bytes: value)
                _ = try whole.parseDocument()
                throw EventRejection("not-object", "value is JSON but not an object (a Debezium change envelope)")
            }
            var wrapped = false
            while let name = try scanner.nextField(&top) {
                switch name {
                case "payload":
                    wrapped = true
                    guard var payload = try scanner.enterObject(depth: 1) else {
                        // `{"schema": ..., "payload": null}`: a tombstone through the converter.
                        guard try scanner.readValue(top) == .null else {
                            throw EventRejection("wrong-type", "field 'payload' is not an object")
                        }
                        envelope.isNullPayload = true
                        continue
                    }
                    try envelope.read(&scanner, &payload)
                case "schema":
                    try scanner.skipValue(top)
                default:
                    if wrapped { try scanner.skipValue(top) } else { try envelope.field(name, &scanner, top) }
                }
            }
            try scanner.finish()
        } catch let failure as JSONScanner.Failure {
            throw EventRejection("bad-json", "value is not valid JSON (\(failure.reason) at byte \(failure.offset))")
        } catch let rejection as EventRejection {
            throw rejection
        } catch {
            throw EventRejection("bad-json", "\(error)")
        }
        if envelope.isNullPayload { return .skip(reason: "tombstone") }
        return .event(try event(envelope, key: message.key))
    }

    private func event(_ envelope: Envelope, key: [UInt8]?) throws(EventRejection) -> DomainEvent {
        guard let opText = envelope.op else {
            throw EventRejection("missing-field", "field 'op' is missing: not a Debezium change envelope")
        }
        let op: DomainEvent.Operation
        switch opText {
        case "c": op = .create
        case "u", "r": op = .update
        case "d": op = .delete
        default: throw EventRejection("bad-op", "op '\(opText)' is not c, u, d or r")
        }
        let row = op == .delete ? envelope.before : envelope.after
        guard let row else {
            throw EventRejection("missing-field", "field '\(op == .delete ? "before" : "after")' is missing or null for op '\(opText)'")
        }
        let id = try self.id(key: key, row: row)
        let source = envelope.source ?? [:]
        guard let version = Self.version(source: source, envelopeMillis: envelope.tsMillis) else {
            throw EventRejection("no-version", "neither source.lsn, source.file and source.pos, nor ts_ms gives a version")
        }
        var attrs: [String: String] = [:]
        attrs.reserveCapacity(row.count)
        for (name, value) in row {
            if let text = Self.scalarText(value) { attrs[name] = text }
        }
        var origin = "debezium"
        if case .string(let name)? = source["name"], !name.isEmpty { origin = name }
        var atMillis: Int64 = 0
        if case .number(let text)? = source["ts_ms"], let millis = Int64(text) {
            atMillis = millis
        } else if let millis = envelope.tsMillis {
            atMillis = millis
        }
        return DomainEvent(
            ref: EntityRef(entity: entity, id: id), op: op, version: version, origin: origin, atMillis: atMillis,
            attrs: attrs, eventID: "\(entity)#\(id)@\(version)/\(origin)")
    }

    private func id(key: [UInt8]?, row: [String: JSONScanner.Value]) throws(EventRejection) -> String {
        var keyFields: [String: JSONScanner.Value] = [:]
        if let key, !key.isEmpty {
            var scanner = JSONScanner(bytes: key)
            guard case .object(var fields)? = try? scanner.parseDocument() else {
                throw EventRejection("bad-key", "message key is not a JSON object (Debezium keys carry the row's primary key)")
            }
            if case .object(let payload)? = fields["payload"], fields["schema"] != nil { fields = payload }
            keyFields = fields
        }
        if let idField {
            if let text = keyFields[idField].flatMap(Self.scalarText) ?? row[idField].flatMap(Self.scalarText) { return text }
            throw EventRejection("missing-id", "neither the key nor the row has a scalar field '\(idField)'")
        }
        guard !keyFields.isEmpty else {
            throw EventRejection("missing-id", "message has no key; name the id column with ,id=FIELD")
        }
        guard keyFields.count == 1, let only = keyFields.first else {
            let names = keyFields.keys.sorted().joined(separator: ", ")
            throw EventRejection("ambiguous-id", "the key has fields \(names); name the id column with ,id=FIELD")
        }
        guard let text = Self.scalarText(only.value) else {
            throw EventRejection("missing-id", "key field '\(only.key)' is not a string or number")
        }
        return text
    }

    /// The source position as one number that grows along the log.
    static func version(source: [String: JSONScanner.Value], envelopeMillis: Int64?) -> UInt64? {
        if case .number(let text)? = source["lsn"], let lsn = UInt64(text) { return lsn }
        if case .string(let file)? = source["file"], case .number(let text)? = source["pos"], let position = UInt64(text),
           position < 1 << 32, let sequence = binlogSequence(file) {
            return sequence << 32 | position
        }
        if case .number(let text)? = source["ts_ms"], let millis = UInt64(text) { return millis }
        if let envelopeMillis, envelopeMillis >= 0 { return UInt64(envelopeMillis) }
        return nil
    }

    /// `mysql-bin.000003` → 3: the digits after the last dot.
    static func binlogSequence(_ file: String) -> UInt64? {
        guard let dot = file.lastIndex(of: "."), let sequence = UInt64(file[file.index(after: dot)...]),
              sequence < 1 << 31 else { return nil }
        return sequence
    }

    static func scalarText(_ value: JSONScanner.Value) -> String? {
        switch value {
        case .string(let text), .number(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        default: return nil
        }
    }

    /// The envelope's fields that matter; `before`, `after` and `source` are built (rows are
    /// small), anything else is skipped.
    private struct Envelope {
        var before: [String: JSONScanner.Value]?
        var after: [String: JSONScanner.Value]?
        var source: [String: JSONScanner.Value]?
        var op: String?
        var tsMillis: Int64?
        var isNullPayload = false

        mutating func read(_ scanner: inout JSONScanner, _ cursor: inout JSONScanner.ObjectCursor) throws {
            while let name = try scanner.nextField(&cursor) { try field(name, &scanner, cursor) }
        }

        mutating func field(_ name: String, _ scanner: inout JSONScanner, _ cursor: JSONScanner.ObjectCursor) throws {
            switch name {
            case "before": before = try object(name, scanner.readValue(cursor))
            case "after": after = try object(name, scanner.readValue(cursor))
            case "source": source = try object(name, scanner.readValue(cursor))
            case "op":
                guard case .string(let text) = try scanner.readValue(cursor) else {
                    throw EventRejection("wrong-type", "field 'op' is not a string")
                }
                op = text
            case "ts_ms":
                let value = try scanner.readValue(cursor)
                if case .number(let text) = value { tsMillis = Int64(text) }
            default: try scanner.skipValue(cursor)
            }
        }

        private func object(_ name: String, _ value: JSONScanner.Value) throws(EventRejection) -> [String: JSONScanner.Value]? {
            switch value {
            case .null: return nil
            case .object(let fields): return fields
            default: throw EventRejection("wrong-type", "field '\(name)' is not an object")
            }
        }
    }
}
