/// One `--source KIND:TOPIC[=Entity][,id=FIELD]` of `cascade bus`: another topic the bus
/// consumes, with the decoder for its format.
public struct SourceSpec: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Cascade's own event JSON, on a topic other than `cascade.events`.
        case json
        case debezium
        case cloudevents
    }

    public var kind: Kind
    public var topic: String
    /// Debezium: the entity the table's rows are (required). CloudEvents: the entity when the
    /// event names none.
    public var entity: String?
    /// Debezium: the id column, when the key has several fields or none.
    public var idField: String?

    public init(kind: Kind, topic: String, entity: String? = nil, idField: String? = nil) {
        self.kind = kind
        self.topic = topic
        self.entity = entity
        self.idField = idField
    }

    public var description: String {
        "\(kind.rawValue):\(topic)" + (entity.map { "=\($0)" } ?? "") + (idField.map { ",id=\($0)" } ?? "")
    }

    /// Parses the command-line form; the error is a sentence for the operator.
    public static func parse(_ text: String) throws(SourceSpecError) -> SourceSpec {
        guard let colon = text.firstIndex(of: ":") else {
            throw SourceSpecError("source '\(text)' is not KIND:TOPIC (kinds: \(kindList))")
        }
        let kindText = String(text[..<colon])
        guard let kind = Kind(rawValue: kindText.lowercased()) else {
            throw SourceSpecError("source kind '\(kindText)' is not one of \(kindList)")
        }
        var rest = Substring(text[text.index(after: colon)...])
        var options: [Substring] = []
        if let comma = rest.firstIndex(of: ",") {
            options = rest[rest.index(after: comma)...].split(separator: ",")
            rest = rest[..<comma]
        }
        var entity: String?
        if let equals = rest.firstIndex(of: "=") {
            entity = String(rest[rest.index(after: equals)...])
            rest = rest[..<equals]
        }
        let topic = String(rest)
        guard !topic.isEmpty, topic.utf8.allSatisfy(isTopicByte) else {
            throw SourceSpecError("source '\(text)': topic '\(topic)' is not a Kafka topic name (letters, digits, '.', '_', '-')")
        }
        if let entity, entity.isEmpty { throw SourceSpecError("source '\(text)': the entity after '=' is empty") }
        var idField: String?
        for option in options {
            guard option.hasPrefix("id="), option.count > 3 else {
                throw SourceSpecError("source '\(text)': option '\(option)' is not id=FIELD")
            }
            idField = String(option.dropFirst(3))
        }
        if kind == .debezium && entity == nil {
            throw SourceSpecError("source '\(text)': a debezium source names its entity, debezium:TOPIC=Entity")
        }
        if kind != .debezium && idField != nil {
            throw SourceSpecError("source '\(text)': id=FIELD applies to debezium sources only")
        }
        if kind == .json && entity != nil {
            throw SourceSpecError("source '\(text)': json events name their own entity; drop '=\(entity ?? "")'")
        }
        return SourceSpec(kind: kind, topic: topic, entity: entity, idField: idField)
    }

    /// The decoder for this source; `entities` are the graph's, for CloudEvents' type matching.
    public func decoder(entities: [String], maxBytes: Int) -> any DomainEventDecoder {
        switch kind {
        case .json: return JSONEventDecoder(maxBytes: maxBytes)
        case .debezium: return DebeziumEventDecoder(entity: entity ?? "", idField: idField, maxBytes: max(maxBytes, 1024 * 1024))
        case .cloudevents: return CloudEventsDecoder(entities: entities, defaultEntity: entity, maxBytes: maxBytes)
        }
    }

    private static var kindList: String { Kind.allCases.map(\.rawValue).joined(separator: ", ") }

    private static func isTopicByte(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }
}

public struct SourceSpecError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
