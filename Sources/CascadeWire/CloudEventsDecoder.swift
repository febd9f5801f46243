/// CloudEvents 1.0 through the Kafka protocol binding, in either mode:
/// - binary: attributes in `ce_`-prefixed headers (`ce_specversion`, `ce_id`, `ce_source`,
///   `ce_type`, ...), `content-type` for `datacontenttype`, the value is the data;
/// - structured: the value is a JSON event (`content-type: application/cloudevents+json`),
///   attributes as top-level fields, the data in `data`.
///
/// Mapped to a domain event: entity from the extension `entity`, else the `type`'s
/// second-to-last dot-separated segment matched case-insensitively to an entity of the graph
/// (`com.shop.product.updated` → Product), else `defaultEntity`; id from `subject`; version
/// from the extension `sequence`, else `version`; op from the `type`'s last segment
/// (created/updated/deleted); attrs from the data's scalar fields when it is a JSON object;
/// origin from `source`; `at` from `time`; the event id is `id`; the distributed-tracing
/// extension's `traceparent` is kept for the bus to continue.
public struct CloudEventsDecoder: DomainEventDecoder {
    /// Graph entity names by their lowercase spelling.
    private let entities: [String: String]
    public let defaultEntity: String?
    public var maxBytes: Int

    public init(entities: [String], defaultEntity: String? = nil, maxBytes: Int = 64 * 1024) {
        var byLowercase: [String: String] = [:]
        for name in entities { byLowercase[name.lowercased()] = name }
        self.entities = byLowercase
        self.defaultEntity = defaultEntity
        self.maxBytes = maxBytes
    }

    /// The context attributes the mapping reads, from either mode.
    struct Attributes {
        var specversion, id, source, type, subject, time, entity: String?
        var sequence, version: String?
        /// The distributed-tracing extension's `traceparent`, carried on as it is (the bus checks it).
        var traceparent: String?
        var data: [String: JSONScanner.Value]?
    }

    public func decode(_ message: SourceMessage) throws(EventRejection) -> DecodedMessage {
        guard let value = message.value else {
            throw EventRejection("tombstone", "message has no value (a tombstone); a CloudEvent needs a body or ce_ headers")
        }
        guard value.count <= maxBytes else {
            throw EventRejection("oversize", "event is \(value.count) bytes, the limit is \(maxBytes)")
        }
        let attributes = message.header("ce_specversion") != nil ? try binary(message, value) : try structured(message, value)
        return .event(try event(attributes))
    }

    private func binary(_ message: SourceMessage, _ value: [UInt8]) throws(EventRejection) -> Attributes {
        var attributes = Attributes()
        for header in message.headers where header.name.hasPrefix("ce_") {
            let text = header.value.map { String(decoding: $0, as: UTF8.self) }
            switch header.name {
            case "ce_specversion": attributes.specversion = text
            case "ce_id": attributes.id = text
            case "ce_source": attributes.source = text
            case "ce_type": attributes.type = text
            case "ce_subject": attributes.subject = text
            case "ce_time": attributes.time = text
            case "ce_entity": attributes.entity = text
            case "ce_sequence": attributes.sequence = text
            case "ce_version": attributes.version = text
            case "ce_traceparent": attributes.traceparent = text
            default: break
            }
        }
        // The data is attrs only when it is a JSON object; other data is fine, just not read.
        let contentType = message.header("content-type").map { String(decoding: $0, as: UTF8.self).lowercased() }
        if contentType == nil || contentType?.contains("json") == true, !value.isEmpty {
            var scanner = JSONScanner(bytes: value)
            if case .object(let fields)? = try? scanner.parseDocument() { attributes.data = fields }
        }
        return attributes
    }

    private func structured(_ message: SourceMessage, _ value: [UInt8]) throws(EventRejection) -> Attributes {
        var attributes = Attributes()
        var sawSpecversion = false
        do {
            var scanner = JSONScanner(bytes: value)
            guard var top = try scanner.enterObject() else {
                var whole = JSONScanner(bytes: value)
                _ = try whole.parseDocument()
                throw EventRejection("not-cloudevent", "value is JSON but not an object, and there is no ce_specversion header")
            }
            while let name = try scanner.nextField(&top) {
                switch name {
                case "data":
                    if case .object(let fields) = try scanner.readValue(top) { attributes.data = fields }
                case "traceparent":
                    // A trace is extra: a value of another type is ignored, not a reason to dead-letter.
                    if case .string(let text) = try scanner.readValue(top) { attributes.traceparent = text }
                case "specversion", "id", "source", "type", "subject", "time", "entity", "sequence", "version":
                    let text: String?
                    switch try scanner.readValue(top) {
                    case .string(let string): text = string
                    case .number(let number) where name == "sequence" || name == "version": text = number
                    case .null: text = nil
                    default: throw EventRejection("wrong-type", "attribute '\(name)' is not a string")
                    }
                    switch name {
                    case "specversion": attributes.specversion = text; sawSpecversion = true
                    case "id": attributes.id = text
                    case "source": attributes.source = text
                    case "type": attributes.type = text
                    case "subject": attributes.subject = text
                    case "time": attributes.time = text
                    case "entity": attributes.entity = text
                    case "sequence": attributes.sequence = text
                    default: attributes.version = text
                    }
                default: try scanner.skipValue(top)
                }
            }
            try scanner.finish()
        } catch {
            throw EventRejection.from(error)
        }
        guard sawSpecversion else {
            throw EventRejection("not-cloudevent", "no 'specversion' in the body and no ce_specversion header")
        }
        return attributes
    }

    private func event(_ attributes: Attributes) throws(EventRejection) -> DomainEvent {
        guard let specversion = attributes.specversion, specversion.hasPrefix("1.") else {
            throw EventRejection("bad-specversion", "specversion '\(attributes.specversion ?? "")' is not 1.x")
        }
        let id = try required(attributes.id, "id")
        let source = try required(attributes.source, "source")
        let type = try required(attributes.type, "type")
        let subject = try required(attributes.subject, "subject")
        let segments = type.split(separator: ".", omittingEmptySubsequences: false)
        let op: DomainEvent.Operation
        switch segments.last.map({ $0.lowercased() }) {
        case "created", "create": op = .create
        case "updated", "update": op = .update
        case "deleted", "delete": op = .delete
        default:
            throw EventRejection("bad-op", "type '\(type)' does not end in created, updated or deleted")
        }
        let entity: String
        if let named = attributes.entity, !named.isEmpty {
            entity = entities[named.lowercased()] ?? named
        } else if segments.count >= 2, let matched = entities[segments[segments.count - 2].lowercased()] {
            entity = matched
        } else if let defaultEntity {
            entity = defaultEntity
        } else {
            throw EventRejection(
                "unknown-entity", "type '\(type)' names no entity of the graph and there is no 'entity' extension")
        }
        let versionText = attributes.sequence ?? attributes.version
        guard let versionText else {
            throw EventRejection("no-version", "neither the 'sequence' nor the 'version' extension is present")
        }
        guard let version = UInt64(versionText) else {
            throw EventRejection("bad-version", "'\(attributes.sequence != nil ? "sequence" : "version")' is '\(versionText)', not a non-negative whole number")
        }
        var atMillis: Int64 = 0
        if let time = attributes.time {
            guard let millis = RFC3339.parseMillis(time) else {
                throw EventRejection("bad-time", "attribute 'time' is not an RFC 3339 time: '\(time)'")
            }
            atMillis = millis
        }
        var attrs: [String: String] = [:]
        for (name, value) in attributes.data ?? [:] {
            switch value {
            case .string(let text), .number(let text): attrs[name] = text
            case .bool(let flag): attrs[name] = flag ? "true" : "false"
            default: break
            }
        }
        var event = DomainEvent(
            ref: EntityRef(entity: entity, id: subject), op: op, version: version, origin: source, atMillis: atMillis,
            attrs: attrs, eventID: id)
        event.traceparent = attributes.traceparent
        return event
    }

    private func required(_ value: String?, _ name: String) throws(EventRejection) -> String {
        guard let value, !value.isEmpty else { throw EventRejection("missing-field", "attribute '\(name)' is missing") }
        return value
    }
}
