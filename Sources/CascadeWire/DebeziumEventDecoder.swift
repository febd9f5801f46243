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
        } catch {
            throw EventRejection.from(error)
        }
        if envelope.isNullPayload { return .skip(reason: "tombstone") }
        return .event(try event(envelope, value: value, key: message.key))
    }

    private func event(_ envelope: Envelope, value: [UInt8], key: [UInt8]?) throws(EventRejection) -> DomainEvent {
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
        let rowName = op == .delete ? "before" : "after"
        guard let rowAt = op == .delete ? envelope.beforeAt : envelope.afterAt,
              let row = try Self.scalars(value, at: rowAt, field: rowName)
        else {
            throw EventRejection("missing-field", "field '\(rowName)' is missing or null for op '\(opText)'")
        }
        let id = try self.id(key: key, row: row)
        guard let version = envelope.version else {
            throw EventRejection("no-version", "neither source.lsn, source.file and source.pos, nor ts_ms gives a version")
        }
        let origin = envelope.sourceName.flatMap { $0.isEmpty ? nil : $0 } ?? "debezium"
        return DomainEvent(
            ref: EntityRef(entity: entity, id: id), op: op, version: version, origin: origin,
            atMillis: envelope.sourceMillis ?? envelope.tsMillis ?? 0,
            attrs: row, eventID: "\(entity)#\(id)@\(version)/\(origin)")
    }

    private func id(key: [UInt8]?, row: [String: String]) throws(EventRejection) -> String {
        var keyFields: [String: String?] = [:]
        if let key, !key.isEmpty {
            guard let fields = try? Self.keyFields(key) else {
                throw EventRejection("bad-key", "message key is not a JSON object (Debezium keys carry the row's primary key)")
            }
            keyFields = fields
        }
        if let idField {
            if let text = keyFields[idField] ?? nil ?? row[idField] { return text }
            throw EventRejection("missing-id", "neither the key nor the row has a scalar field '\(idField)'")
        }
        guard !keyFields.isEmpty else {
            throw EventRejection("missing-id", "message has no key; name the id column with ,id=FIELD")
        }
        guard keyFields.count == 1, let only = keyFields.first else {
            let names = keyFields.keys.sorted().joined(separator: ", ")
            throw EventRejection("ambiguous-id", "the key has fields \(names); name the id column with ,id=FIELD")
        }
        guard let text = only.value else {
            throw EventRejection("missing-id", "key field '\(only.key)' is not a string or number")
        }
        return text
    }

    /// The key's fields (nil for a value that is not a scalar), bare or inside the
    /// converter's wrapper; the key's schema is skipped, not built.
    static func keyFields(_ key: [UInt8]) throws -> [String: String?] {
        var scanner = JSONScanner(bytes: key)
        guard var top = try scanner.enterObject() else { throw EventRejection("bad-key", "") }
        var fields: [String: String?] = [:]
        var sawSchema = false
        var payloadAt: Int?
        while let name = try scanner.nextField(&top) {
            if name == "schema" { sawSchema = true }
            if name == "payload" { payloadAt = scanner.position }
            if name == "schema" {
                try scanner.skipValue(top)
            } else {
                fields[name] = scalarText(try scanner.readValue(top))
            }
        }
        try scanner.finish()
        if sawSchema, let payloadAt {
            var payload = JSONScanner(bytes: key, at: payloadAt)
            guard var cursor = try payload.enterObject(depth: 1) else { throw EventRejection("bad-key", "") }
            fields = [:]
            while let name = try payload.nextField(&cursor) { fields[name] = scalarText(try payload.readValue(cursor)) }
        }
        return fields
    }

    /// The scalar columns of the row object at `offset` as text; nil when the row is null.
    static func scalars(_ bytes: [UInt8], at offset: Int, field: String) throws(EventRejection) -> [String: String]? {
        var scanner = JSONScanner(bytes: bytes, at: offset)
        do {
            guard var cursor = try scanner.enterObject(depth: 1) else {
                guard try scanner.readValue(JSONScanner.ObjectCursor.top) == .null else {
                    throw EventRejection("wrong-type", "field '\(field)' is not an object")
                }
                return nil
            }
            var row: [String: String] = [:]
            while let name = try scanner.nextField(&cursor) {
                if let text = scalarText(try scanner.readValue(cursor)) { row[name] = text }
            }
            return row
        } catch let rejection as EventRejection {
            throw rejection
        } catch {
            throw EventRejection("bad-json", "field '\(field)' does not read")
        }
    }

    /// MySQL's binlog position as one number: the file's sequence number times 2^32 plus `pos`.
    static func binlogVersion(file: String, position: UInt64) -> UInt64? {
        guard position < 1 << 32, let sequence = binlogSequence(file) else { return nil }
        return sequence << 32 | position
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

    /// The envelope's fields that matter. `before` and `after` are only located (the row the
    /// op needs is read afterwards), `source` gives up its position fields, the rest is skipped.
    private struct Envelope {
        var beforeAt: Int?
        var afterAt: Int?
        var op: String?
        var tsMillis: Int64?
        var sourceName: String?
        var sourceMillis: Int64?
        var lsn: UInt64?
        var binlogFile: String?
        var binlogPosition: UInt64?
        var isNullPayload = false

        /// lsn, else binlog file and position, else ts_ms (the source's, then the envelope's).
        var version: UInt64? {
            if let lsn { return lsn }
            if let binlogFile, let binlogPosition, let version = DebeziumEventDecoder.binlogVersion(file: binlogFile, position: binlogPosition) {
                return version
            }
            if let millis = sourceMillis ?? tsMillis, millis >= 0 { return UInt64(millis) }
            return nil
        }

        mutating func read(_ scanner: inout JSONScanner, _ cursor: inout JSONScanner.ObjectCursor) throws {
            while let name = try scanner.nextField(&cursor) { try field(name, &scanner, cursor) }
        }

        mutating func field(_ name: String, _ scanner: inout JSONScanner, _ cursor: JSONScanner.ObjectCursor) throws {
            switch name {
            case "before":
                beforeAt = scanner.position
                try scanner.skipValue(cursor)
            case "after":
                afterAt = scanner.position
                try scanner.skipValue(cursor)
            case "source":
                guard var source = try scanner.enterObject(depth: cursor.nextDepth) else {
                    guard try scanner.readValue(cursor) == .null else { throw EventRejection("wrong-type", "field 'source' is not an object") }
                    return
                }
                while let field = try scanner.nextField(&source) {
                    switch field {
                    case "lsn": if case .number(let text) = try scanner.readValue(source) { lsn = UInt64(text) }
                    case "file": if case .string(let text) = try scanner.readValue(source) { binlogFile = text }
                    case "pos": if case .number(let text) = try scanner.readValue(source) { binlogPosition = UInt64(text) }
                    case "ts_ms": if case .number(let text) = try scanner.readValue(source) { sourceMillis = Int64(text) }
                    case "name": if case .string(let text) = try scanner.readValue(source) { sourceName = text }
                    default: try scanner.skipValue(source)
                    }
                }
            case "op":
                guard case .string(let text) = try scanner.readValue(cursor) else {
                    throw EventRejection("wrong-type", "field 'op' is not a string")
                }
                op = text
            case "ts_ms":
                if case .number(let text) = try scanner.readValue(cursor) { tsMillis = Int64(text) }
            default: try scanner.skipValue(cursor)
            }
        }
    }
}
