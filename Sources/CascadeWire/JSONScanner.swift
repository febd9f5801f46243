/// A small strict JSON reader over bytes, for messages on the hot path. Numbers stay as their
/// text so the caller decides what they mean; nesting is capped.
struct JSONScanner {
    /// Not `indirect`: arrays and dictionaries already hold their elements out of line, and
    /// boxing every value cost an allocation per field.
    enum Value: Equatable {
        case null, bool(Bool), number(String), string(String)
        case array([Value]), object([String: Value])
    }

    struct Failure: Error {
        var reason: String
        var offset: Int
    }

    private let bytes: [UInt8]
    private var index = 0
    private let maxDepth = 32

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func parseDocument() throws(Failure) -> Value {
        let value = try parseValue(depth: 0)
        skipSpace()
        guard index == bytes.count else { throw fail("trailing characters") }
        return value
    }

    private func fail(_ reason: String) -> Failure { Failure(reason: reason, offset: index) }

    private mutating func skipSpace() {
        while index < bytes.count, WireJSON.isWhitespace(bytes[index]) { index += 1 }
    }

    private mutating func parseValue(depth: Int) throws(Failure) -> Value {
        guard depth < maxDepth else { throw fail("nested too deep") }
        skipSpace()
        guard index < bytes.count else { throw fail("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return .number(try parseNumber())
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("unexpected end") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { throw fail("unknown literal") }
        index += count
    }

    /// Like `parseDocument` for a document whose top level is an object, but each field goes
    /// to `field` in document order instead of into a dictionary (a caller reading a few known
    /// fields saves building one). False, with nothing read, when the top level is not an
    /// object: `parseDocument` then tells what it is.
    mutating func parseObjectDocument(field: (String, Value) -> Void) throws(Failure) -> Bool {
        try parseObjectDocument(reading: { name, scanner throws(Failure) in field(name, try scanner.parseValue(depth: 1)) })
    }

    /// Like `parseObjectDocument(field:)`, but `field` reads each value itself, the scanner
    /// at the value (`readValue(depth: 1)`, `readObject`, `readPlainString`): a caller keeps
    /// what it needs without building a `Value` of it.
    mutating func parseObjectDocument(reading field: (String, inout JSONScanner) throws(Failure) -> Void) throws(Failure) -> Bool {
        let start = index
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else {
            index = start
            return false
        }
        try parseFields(depth: 0, field)
        skipSpace()
        guard index == bytes.count else { throw fail("trailing characters") }
        return true
    }

    private mutating func parseObject(depth: Int) throws(Failure) -> Value {
        var fields: [String: Value] = [:]
        try parseFields(depth: depth) { name, scanner throws(Failure) in fields[name] = try scanner.parseValue(depth: depth + 1) }
        return .object(fields)
    }

    /// The fields of the object at `index` (its `{`), in order; `field` reads each value.
    private mutating func parseFields(depth: Int, _ field: (String, inout JSONScanner) throws(Failure) -> Void) throws(Failure) {
        index += 1
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return }
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a field name") }
            let name = try parseString()
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            try field(name, &self)
            skipSpace()
            guard index < bytes.count else { throw fail("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func parseArray(depth: Int) throws(Failure) -> Value {
        index += 1
        var items: [Value] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
        while true {
            items.append(try parseValue(depth: depth + 1))
            skipSpace()
            guard index < bytes.count else { throw fail("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func parseNumber() throws(Failure) -> String {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        while index < bytes.count, isNumberByte(bytes[index]) { index += 1 }
        guard index > digitsStart, bytes[digitsStart] >= 48, bytes[digitsStart] <= 57 else { throw fail("unexpected character") }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard Double(text) != nil else { throw fail("bad number") }
        return text
    }

    private func isNumberByte(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
    }

    private mutating func parseString() throws(Failure) -> String {
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw fail("control character in string") }
            index += 1
        }
        var out = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw fail("unexpected end") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "u"): try appendUnicode(&out)
                default: throw fail("bad escape")
                }
            default:
                guard byte >= 0x20 else { throw fail("control character in string") }
                out.append(byte)
            }
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("unexpected end") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case 48...57: digit = UInt32(byte - 48)
            case 65...70: digit = UInt32(byte - 55)
            case 97...102: digit = UInt32(byte - 87)
            default: throw fail("bad \\u escape")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    private mutating func appendUnicode(_ out: inout [UInt8]) throws(Failure) {
        var scalar = try hex4()
        if (0xD800..<0xDC00).contains(scalar), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
            index += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw fail("bad surrogate pair") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let unicode = Unicode.Scalar(scalar) else { throw fail("bad \\u escape") }
        out.append(contentsOf: Array(String(Character(unicode)).utf8))
    }
}

/// Reading a value in place, from `parseObjectDocument(reading:)`: as `parseValue` would,
/// with the same failures, but into what the caller keeps.
extension JSONScanner {
    /// The value at the reading position, built; `depth` is its nesting (1 for a field of the
    /// document's object).
    mutating func readValue(depth: Int) throws(Failure) -> Value { try parseValue(depth: depth) }

    /// The object at the reading position, its fields passed to `field` in order; false, with
    /// nothing consumed but space, when the value there is not an object.
    mutating func readObject(depth: Int, field: (String, inout JSONScanner) throws(Failure) -> Void) throws(Failure) -> Bool {
        guard depth < maxDepth else { throw fail("nested too deep") }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return false }
        try parseFields(depth: depth, field)
        return true
    }

    /// Where the text of the string at the reading position lies in the bytes, when it has no
    /// escapes (then consumed): no String for it. Nil, with nothing consumed but space, for
    /// any other value or a string with escapes.
    mutating func readPlainString() throws(Failure) -> Range<Int>? {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        let quote = index
        var end = quote + 1
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") {
                index = end + 1
                return quote + 1..<end
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else {
                index = end
                throw fail("control character in string")
            }
            end += 1
        }
        return nil
    }
}

extension JSONScanner {
    /// Reads the array at the reading position when each of its elements is a string without
    /// escapes, handing `element` where each one's text lies. False, with nothing consumed but
    /// space, when the value there is anything else.
    mutating func readPlainStrings(_ element: (Range<Int>) -> Void) throws(Failure) -> Bool {
        skipSpace()
        let start = index
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { return false }
        index += 1
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return true
        }
        while true {
            guard let text = try readPlainString() else {
                index = start
                return false
            }
            element(text)
            skipSpace()
            guard index < bytes.count else { throw fail("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return true }
            throw fail("expected ',' or ']'")
        }
    }
}

/// Pull-style reading, for envelopes that nest the few fields they need among many others
/// (Debezium's schema, CloudEvents' data): the caller walks the objects it cares about and
/// skips the rest without building values.
extension JSONScanner {
    /// An object being read: whether a field was read yet, and its depth.
    struct ObjectCursor {
        fileprivate var first = true
        fileprivate let depth: Int

        /// The depth of an object inside this one.
        var nextDepth: Int { depth + 1 }

        /// For reading a top-level value found earlier.
        static let top = ObjectCursor(depth: -1)
    }

    /// Enters the object at the reading position; nil, with nothing consumed but space, when
    /// the value there is not an object (`null`, say).
    mutating func enterObject(depth: Int = 0) throws(Failure) -> ObjectCursor? {
        guard depth < maxDepth else { throw fail("nested too deep") }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        return ObjectCursor(depth: depth)
    }

    /// The next field's name, leaving the reading position at its value (which the caller must
    /// read, skip or enter); nil once the object ends.
    mutating func nextField(_ cursor: inout ObjectCursor) throws(Failure) -> String? {
        skipSpace()
        guard index < bytes.count else { throw fail("unexpected end") }
        if bytes[index] == UInt8(ascii: "}") {
            index += 1
            return nil
        }
        if !cursor.first {
            guard bytes[index] == UInt8(ascii: ",") else { throw fail("expected ',' or '}'") }
            index += 1
            skipSpace()
        }
        cursor.first = false
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a field name") }
        let name = try parseString()
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
        index += 1
        return name
    }

    /// The value at the reading position, built.
    mutating func readValue(_ cursor: ObjectCursor) throws(Failure) -> Value {
        try parseValue(depth: cursor.depth + 1)
    }

    /// Checks the value at the reading position as JSON without building it.
    mutating func skipValue(_ cursor: ObjectCursor) throws(Failure) {
        // Over the raw buffer: schemas are most of a Debezium message, and bounds checks per
        // byte were most of skipping them.
        let start = index
        let depthLimit = maxDepth
        let result = bytes.withUnsafeBufferPointer { buffer -> Result<Int, Failure> in
            var skipper = Skipper(bytes: buffer, index: start, maxDepth: depthLimit)
            do throws(Failure) {
                try skipper.skip(depth: cursor.depth + 1)
                return .success(skipper.index)
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let end): index = end
        case .failure(let failure):
            index = failure.offset
            throw failure
        }
    }

    /// Where reading is (a byte offset), to come back to a skipped value with `init(bytes:at:)`.
    var position: Int { index }

    /// A scanner reading `bytes` from `offset` (a value found earlier and skipped).
    init(bytes: [UInt8], at offset: Int) {
        self.bytes = bytes
        self.index = offset
    }

    /// Only space may follow the document's value.
    mutating func finish() throws(Failure) {
        skipSpace()
        guard index == bytes.count else { throw fail("trailing characters") }
    }
}

/// Walks one value as `JSONScanner.parseValue` would check it, building nothing, over a raw
/// buffer (no bounds check per byte; every read is guarded by `index < bytes.count`).
private struct Skipper {
    let bytes: UnsafeBufferPointer<UInt8>
    var index: Int
    let maxDepth: Int

    private func fail(_ reason: String) -> JSONScanner.Failure { .init(reason: reason, offset: index) }

    @inline(__always) private mutating func skipSpace() {
        while index < bytes.count, WireJSON.isWhitespace(bytes[index]) { index += 1 }
    }

    mutating func skip(depth: Int) throws(JSONScanner.Failure) {
        guard depth < maxDepth else { throw fail("nested too deep") }
        skipSpace()
        guard index < bytes.count else { throw fail("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a field name") }
                try skipString()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                index += 1
                try skip(depth: depth + 1)
                skipSpace()
                guard index < bytes.count else { throw fail("unexpected end") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return }
            while true {
                try skip(depth: depth + 1)
                skipSpace()
                guard index < bytes.count else { throw fail("unexpected end") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try skipNumber()
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONScanner.Failure) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("unexpected end") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { throw fail("unknown literal") }
        index += count
    }

    /// A string checked byte by byte (escapes included), no `String` made.
    private mutating func skipString() throws(JSONScanner.Failure) {
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return }
            if byte == UInt8(ascii: "\\") {
                guard index < bytes.count else { throw fail("unexpected end") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count else { throw fail("unexpected end") }
                    for _ in 0..<4 {
                        let digit = bytes[index]
                        guard (48...57).contains(digit) || (65...70).contains(digit) || (97...102).contains(digit) else {
                            throw fail("bad \\u escape")
                        }
                        index += 1
                    }
                default: throw fail("bad escape")
                }
            } else if byte < 0x20 {
                index -= 1
                throw fail("control character in string")
            }
        }
        throw fail("unterminated string")
    }

    @inline(__always) private mutating func digits() -> Int {
        let start = index
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 { index += 1 }
        return index - start
    }

    /// A number by JSON's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func skipNumber() throws(JSONScanner.Failure) {
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let intStart = index
        let intDigits = digits()
        guard intDigits > 0 else { throw fail("unexpected character") }
        guard intDigits == 1 || bytes[intStart] != 48 else { throw fail("bad number") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw fail("bad number") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw fail("bad number") }
        }
    }
}

/// Typed reads for messages whose shape is known (invalidation batches, read by every node
/// for every batch): no `Value` tree, no String for a number.
extension JSONScanner {
    /// An array being read.
    struct ArrayCursor {
        fileprivate var first = true
        fileprivate let depth: Int

        /// The depth of a value inside this array.
        var nextDepth: Int { depth + 1 }
    }

    /// Enters the array at the reading position; nil, with nothing consumed but space, when
    /// the value there is not an array.
    mutating func enterArray(depth: Int) throws(Failure) -> ArrayCursor? {
        guard depth < maxDepth else { throw fail("nested too deep") }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { return nil }
        index += 1
        return ArrayCursor(depth: depth)
    }

    /// Moves to the next element (leaving the reading position at it); false once the array ends.
    mutating func nextElement(_ cursor: inout ArrayCursor) throws(Failure) -> Bool {
        skipSpace()
        guard index < bytes.count else { throw fail("unexpected end") }
        if bytes[index] == UInt8(ascii: "]") {
            index += 1
            return false
        }
        if !cursor.first {
            guard bytes[index] == UInt8(ascii: ",") else { throw fail("expected ',' or ']'") }
            index += 1
        }
        cursor.first = false
        return true
    }

    /// The string at the reading position; nil, with nothing consumed but space, when the
    /// value there is not a string.
    mutating func readString() throws(Failure) -> String? {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        return try parseString()
    }

    /// Whether the value at the reading position is `null` (then consumed).
    mutating func readNull() -> Bool {
        skipSpace()
        guard index + 4 <= bytes.count, bytes[index] == UInt8(ascii: "n"), bytes[index + 1] == UInt8(ascii: "u"),
              bytes[index + 2] == UInt8(ascii: "l"), bytes[index + 3] == UInt8(ascii: "l")
        else { return false }
        index += 4
        return true
    }

    /// The integer at the reading position, when it is one written plainly (digits, maybe a
    /// leading `-`) that fits; nil otherwise, with nothing consumed but space.
    mutating func readInteger() -> Int64? {
        skipSpace()
        let start = index
        let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        var magnitude: UInt64 = 0
        let digitsStart = index
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
            let (times, overflowA) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times.addingReportingOverflow(UInt64(bytes[index] - 48))
            guard !overflowA, !overflowB else { index = start; return nil }
            magnitude = sum
            index += 1
        }
        let plain = index > digitsStart && (index == digitsStart + 1 || bytes[digitsStart] != 48)
            && (index == bytes.count || !isNumberByte(bytes[index]))
        guard plain else { index = start; return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { index = start; return nil }
            return magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { index = start; return nil }
        return Int64(magnitude)
    }
}

extension JSONScanner {
    /// What a plain reader's `field` throws for anything it does not take.
    static let notPlain = Failure(reason: "not plain", offset: 0)

    /// Reads `bytes` as a plain document, what the bus and the nodes write: ASCII without
    /// escapes, one object, each field handed to `field` (as `parseObjectDocument(reading:)`),
    /// which throws `notPlain` for what it does not take. False when the document is not plain:
    /// the caller's JSONDecoder then reads (or rejects) it.
    static func readPlainObject(_ bytes: [UInt8], field: (String, inout JSONScanner) throws(Failure) -> Void) -> Bool {
        for byte in bytes where byte >= 0x80 || byte == UInt8(ascii: "\\") { return false }
        var scanner = JSONScanner(bytes: bytes)
        do {
            return try scanner.parseObjectDocument(reading: field)
        } catch {
            return false
        }
    }
}
