/// The plain JSON event form of DESIGN.md (`entity`, `id`, `op`, `version`, `origin`, `at`,
/// `attrs`, `event_id`), decoded straight from the bytes without Foundation's
/// JSONSerialization, since it sits on the bus's hot path. Every rejection names its kind.
public struct JSONEventDecoder: DomainEventDecoder {
    public var maxBytes: Int

    public init(maxBytes: Int = 64 * 1024) {
        self.maxBytes = maxBytes
    }

    public func decode(_ message: SourceMessage) throws(EventRejection) -> DecodedMessage {
        guard let value = message.value else {
            throw EventRejection("tombstone", "message has no value (a tombstone); events need a body")
        }
        return .event(try decode(value))
    }

    public func decode(_ bytes: [UInt8]) throws(EventRejection) -> DomainEvent {
        guard bytes.count <= maxBytes else {
            throw EventRejection("oversize", "event is \(bytes.count) bytes, the limit is \(maxBytes)")
        }
        guard !bytes.isEmpty else { throw EventRejection("empty", "message has no value") }
        var reader = JSONScanner(bytes: bytes)
        // The known fields straight from the scanner, the last of a repeated name winning as
        // in a dictionary; others are checked as JSON and dropped.
        var fields = Fields()
        let isObject: Bool
        do {
            isObject = try reader.parseObjectDocument(reading: { name, scanner throws(JSONScanner.Failure) in
                try fields.read(name, from: &scanner)
            })
            // Anything else still has to be valid JSON to be called "not an object".
            if !isObject { _ = try reader.parseDocument() }
        } catch {
            throw EventRejection.badJSON(error)
        }
        guard isObject else { throw EventRejection("not-object", "value is JSON but not an object") }
        let entity = try string(fields.entity, "entity")
        let id = try string(fields.id, "id")
        let opText = try string(fields.op, "op")
        guard let op = DomainEvent.Operation(rawValue: opText) else {
            throw EventRejection("bad-op", "op '\(opText)' is not create, update or delete")
        }
        let version = try version(fields.version)
        let origin = try string(fields.origin, "origin")
        let atMillis = try fields.atMillis(in: bytes)
        let attrs = try fields.checkedAttrs()
        let eventID: String
        if case .string(let text)? = fields.eventID { eventID = text } else { eventID = "\(entity)#\(id)@\(version)/\(origin)" }
        return DomainEvent(
            ref: EntityRef(entity: entity, id: id), op: op, version: version, origin: origin,
            atMillis: atMillis, attrs: attrs, eventID: eventID)
    }

    /// The top-level fields an event is read from. `at` and `attrs` are read in place: the
    /// time's text stays in the message's bytes, the attributes go straight into the event's
    /// dictionary (no String and no dictionary of values per event).
    private struct Fields {
        var entity, id, op, version, origin, eventID: JSONScanner.Value?
        var at: At?
        var attrs: Attrs?

        enum At {
            /// A string without escapes, where it lies in the message.
            case plain(Range<Int>)
            case value(JSONScanner.Value)
        }

        enum Attrs {
            /// An object: its string and number fields, and the names of the others (each
            /// name's last value counts, as in a dictionary).
            case object([String: String], wrong: [String])
            case value(JSONScanner.Value)
        }

        /// Reads the value of field `name` (the last of a repeated name wins); others are
        /// checked as JSON and dropped.
        mutating func read(_ name: String, from scanner: inout JSONScanner) throws(JSONScanner.Failure) {
            switch name {
            case "entity": entity = try scanner.readValue(depth: 1)
            case "id": id = try scanner.readValue(depth: 1)
            case "op": op = try scanner.readValue(depth: 1)
            case "version": version = try scanner.readValue(depth: 1)
            case "origin": origin = try scanner.readValue(depth: 1)
            case "event_id": eventID = try scanner.readValue(depth: 1)
            case "at":
                if let span = try scanner.readPlainString() { at = .plain(span) } else { at = .value(try scanner.readValue(depth: 1)) }
            case "attrs": attrs = try Self.readAttrs(from: &scanner)
            default: _ = try scanner.readValue(depth: 1)
            }
        }

        private static func readAttrs(from scanner: inout JSONScanner) throws(JSONScanner.Failure) -> Attrs {
            var attrs: [String: String] = [:]
            var wrong: [String] = []
            let isObject = try scanner.readObject(depth: 1) { name, scanner throws(JSONScanner.Failure) in
                switch try scanner.readValue(depth: 2) {
                case .string(let text), .number(let text):
                    attrs[name] = text
                    wrong.removeAll { $0 == name }
                default:
                    attrs[name] = nil
                    if !wrong.contains(name) { wrong.append(name) }
                }
            }
            return isObject ? .object(attrs, wrong: wrong) : .value(try scanner.readValue(depth: 1))
        }

        /// `at` in milliseconds since the epoch, 0 when absent or null; `bytes`: the message.
        func atMillis(in bytes: [UInt8]) throws(EventRejection) -> Int64 {
            let text: String
            switch at {
            case nil, .value(.null)?: return 0
            case .plain(let span)?:
                let millis = bytes.withUnsafeBufferPointer { RFC3339.parseMillis(bytes: UnsafeBufferPointer(rebasing: $0[span])) }
                if let millis { return millis }
                text = String(decoding: bytes[span], as: UTF8.self)
            case .value(.string(let written))?:
                if let millis = RFC3339.parseMillis(written) { return millis }
                text = written
            case .value?: throw EventRejection("wrong-type", "field 'at' is not a string")
            }
            throw EventRejection("bad-time", "field 'at' is not an RFC 3339 time: '\(text)'")
        }

        /// The attributes, when `attrs` is an object of strings and numbers (or absent or null).
        func checkedAttrs() throws(EventRejection) -> [String: String] {
            switch attrs {
            case nil, .value(.null)?: return [:]
            case .object(let attrs, let wrong)?:
                if let name = wrong.first { throw EventRejection("wrong-type", "attrs.\(name) is not a string or number") }
                return attrs
            case .value?: throw EventRejection("wrong-type", "field 'attrs' is not an object")
            }
        }
    }

    private func string(_ raw: JSONScanner.Value?, _ field: String) throws(EventRejection) -> String {
        guard let raw, raw != .null else { throw EventRejection("missing-field", "field '\(field)' is missing") }
        guard case .string(let text) = raw else { throw EventRejection("wrong-type", "field '\(field)' is not a string") }
        guard !text.isEmpty else { throw EventRejection("missing-field", "field '\(field)' is empty") }
        return text
    }

    private func version(_ raw: JSONScanner.Value?) throws(EventRejection) -> UInt64 {
        guard let raw, raw != .null else { throw EventRejection("missing-field", "field 'version' is missing") }
        guard case .number(let text) = raw else { throw EventRejection("bad-version", "field 'version' is not a number") }
        if let whole = UInt64(text) { return whole }
        // 42.0 and 4.2e1 are whole numbers too; negatives and fractions are not versions.
        guard let number = Double(text), number >= 0, number < 1.8e19, number == number.rounded(.towardZero) else {
            throw EventRejection("bad-version", "field 'version' is not a non-negative whole number")
        }
        return UInt64(number)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` without a date formatter.
enum RFC3339 {
    static func parseMillis(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parseMillis(bytes: $0) }
    }

    static func parseMillis(bytes b: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard b.count >= 20 else { return nil }
        func digits(_ start: Int, _ count: Int) -> Int? {
            var value = 0
            for i in start..<(start + count) {
                guard i < b.count, b[i] >= 48, b[i] <= 57 else { return nil }
                value = value * 10 + Int(b[i] - 48)
            }
            return value
        }
        guard let year = digits(0, 4), b[4] == 45, let month = digits(5, 2), b[7] == 45, let day = digits(8, 2),
              b[10] == 84 || b[10] == 116 || b[10] == 32, let hour = digits(11, 2), b[13] == 58,
              let minute = digits(14, 2), b[16] == 58, let second = digits(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var millis = 0
        if index < b.count, b[index] == 46 {
            index += 1
            var scale = 100
            let start = index
            while index < b.count, b[index] >= 48, b[index] <= 57 {
                millis += Int(b[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < b.count else { return nil }
        var offsetMinutes = 0
        if b[index] == 90 || b[index] == 122 {
            index += 1
        } else if b[index] == 43 || b[index] == 45 {
            guard let oh = digits(index + 1, 2), index + 3 < b.count, b[index + 3] == 58, let om = digits(index + 4, 2) else { return nil }
            offsetMinutes = (oh * 60 + om) * (b[index] == 45 ? -1 : 1)
            index += 6
        } else {
            return nil
        }
        guard index == b.count else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second - offsetMinutes * 60
        return Int64(seconds) * 1000 + Int64(millis)
    }
}
