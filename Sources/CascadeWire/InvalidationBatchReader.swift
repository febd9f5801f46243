/// Reads invalidation batches without `JSONDecoder`: every node reads every batch of its
/// service, and decoding them through Codable was the largest cost of applying them.
/// Reads exactly what the bus writes (and any field order, space and unknown field); anything
/// else it does not understand, it leaves to the Codable path, which also words the errors.
enum InvalidationBatchReader {
    struct NotUnderstood: Error {}

    static func read(_ bytes: [UInt8]) -> (invalidations: [InvalidationMessage], watermark: SourceWatermark?)? {
        var scanner = JSONScanner(bytes: bytes)
        do {
            guard var envelope = try scanner.enterObject() else { return nil }
            var invalidations: [InvalidationMessage]?
            var watermark: SourceWatermark?
            while let field = try scanner.nextField(&envelope) {
                switch field {
                case "invalidations":
                    guard var list = try scanner.enterArray(depth: envelope.nextDepth) else { return nil }
                    var messages: [InvalidationMessage] = []
                    while try scanner.nextElement(&list) {
                        messages.append(try message(&scanner, depth: list.nextDepth))
                    }
                    invalidations = messages
                case "watermark":
                    if !scanner.readNull() { watermark = try self.watermark(&scanner, depth: envelope.nextDepth) }
                default:
                    // A bare message (no envelope) is the Codable path's to read.
                    return nil
                }
            }
            try scanner.finish()
            guard let invalidations else { return nil }
            return (invalidations, watermark)
        } catch {
            return nil
        }
    }

    private static func message(_ scanner: inout JSONScanner, depth: Int) throws -> InvalidationMessage {
        guard var object = try scanner.enterObject(depth: depth) else { throw NotUnderstood() }
        var kind: InvalidationMessage.Kind?
        var cause: InvalidationMessage.Cause?
        var keys: [InvalidationMessage.Target]?
        var tags: [String]?
        var fences: [InvalidationMessage.Fence]?
        while let field = try scanner.nextField(&object) {
            switch field {
            case "kind":
                guard let text = try scanner.readString(), let value = InvalidationMessage.Kind(rawValue: text) else { throw NotUnderstood() }
                kind = value
            case "cause": cause = try self.cause(&scanner, depth: object.nextDepth)
            case "keys":
                keys = try list(&scanner, depth: object.nextDepth) { scanner, depth in
                    var key: String?
                    var keyDepth: Int64?
                    try fields(&scanner, depth: depth) { scanner, name in
                        switch name {
                        case "key": key = try scanner.readString()
                        case "depth": keyDepth = scanner.readInteger()
                        default: return false
                        }
                        return true
                    }
                    guard let key, let keyDepth else { throw NotUnderstood() }
                    return InvalidationMessage.Target(key: key, depth: Int(keyDepth))
                }
            case "tags":
                tags = try list(&scanner, depth: object.nextDepth) { scanner, _ in
                    guard let tag = try scanner.readString() else { throw NotUnderstood() }
                    return tag
                }
            case "fences":
                fences = try list(&scanner, depth: object.nextDepth) { scanner, depth in
                    var ref: String?
                    var version: Int64?
                    try fields(&scanner, depth: depth) { scanner, name in
                        switch name {
                        case "ref": ref = try scanner.readString()
                        case "version": version = scanner.readInteger()
                        default: return false
                        }
                        return true
                    }
                    guard let ref, let version, version >= 0 else { throw NotUnderstood() }
                    return InvalidationMessage.Fence(ref: ref, version: UInt64(version))
                }
            default:
                try scanner.skipValue(object)
            }
        }
        guard let kind, let cause, let keys, let tags, let fences else { throw NotUnderstood() }
        return InvalidationMessage(kind: kind, cause: cause, keys: keys, tags: tags, fences: fences)
    }

    private static func cause(_ scanner: inout JSONScanner, depth: Int) throws -> InvalidationMessage.Cause {
        var eventID: String?
        var entity: String?
        var id: String?
        var version: Int64?
        var atMillis: Int64?
        var traceparent: String?
        try fields(&scanner, depth: depth) { scanner, name in
            switch name {
            case "traceparent": traceparent = try scanner.readString()
            case "event_id": eventID = try scanner.readString()
            case "entity": entity = try scanner.readString()
            case "id": id = try scanner.readString()
            case "version": version = scanner.readInteger()
            case "at_ms": atMillis = scanner.readInteger()
            default: return false
            }
            return true
        }
        guard let eventID, let entity, let id, let version, version >= 0, let atMillis else { throw NotUnderstood() }
        return InvalidationMessage.Cause(
            eventID: eventID, entity: entity, id: id, version: UInt64(version), atMillis: atMillis, traceparent: traceparent)
    }

    private static func watermark(_ scanner: inout JSONScanner, depth: Int) throws -> SourceWatermark {
        var partition: Int64?
        var through: Int64?
        var atMillis: Int64?
        try fields(&scanner, depth: depth) { scanner, name in
            switch name {
            case "partition": partition = scanner.readInteger()
            case "through": through = scanner.readInteger()
            case "at_ms": atMillis = scanner.readInteger()
            default: return false
            }
            return true
        }
        guard let partition, let partitionNumber = Int32(exactly: partition), let through, let atMillis else { throw NotUnderstood() }
        return SourceWatermark(partition: partitionNumber, through: through, atMillis: atMillis)
    }

    /// Reads an object's fields with `read`, which returns false for a field it does not know
    /// (then skipped). A field `read` knows but finds no value for fails the whole read.
    private static func fields(
        _ scanner: inout JSONScanner, depth: Int, _ read: (inout JSONScanner, String) throws -> Bool
    ) throws {
        guard var object = try scanner.enterObject(depth: depth) else { throw NotUnderstood() }
        while let name = try scanner.nextField(&object) {
            let position = scanner.position
            if try !read(&scanner, name) {
                try scanner.skipValue(object)
            } else if scanner.position == position {
                // Known field, value of another type (or null): not what the bus writes.
                throw NotUnderstood()
            }
        }
    }

    private static func list<T>(
        _ scanner: inout JSONScanner, depth: Int, _ element: (inout JSONScanner, Int) throws -> T
    ) throws -> [T] {
        guard var array = try scanner.enterArray(depth: depth) else { throw NotUnderstood() }
        var items: [T] = []
        while try scanner.nextElement(&array) { items.append(try element(&scanner, array.nextDepth)) }
        return items
    }
}
