/// How to reach a cluster, plus any librdkafka property passed through as is
/// (`security.protocol`, `sasl.*`, `ssl.*`, tuning).
public struct KafkaConfiguration: Sendable, Hashable {
    public var bootstrapServers: String
    public var properties: [String: String]

    public init(bootstrapServers: String, properties: [String: String] = [:]) {
        self.bootstrapServers = bootstrapServers
        self.properties = properties
    }

    /// Parses `-X key=value` pass-through settings.
    public static func parseProperties(_ pairs: [String]) throws(KafkaError) -> [String: String] {
        var properties: [String: String] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw .config("'\(pair)' is not key=value")
            }
            properties[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        return properties
    }

    /// Our defaults first, then the caller's properties over them.
    func merged(with defaults: [String: String]) -> [String: String] {
        var all = defaults
        all["bootstrap.servers"] = bootstrapServers
        for (key, value) in properties { all[key] = value }
        return all
    }
}

/// Kafka's legal topic names: 1 to 249 characters of `a-zA-Z0-9._-`.
public func isValidTopicName(_ name: String) -> Bool {
    guard !name.isEmpty, name.utf8.count <= 249, name != ".", name != ".." else { return false }
    return name.utf8.allSatisfy { byte in
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == 0x2E || byte == 0x5F || byte == 0x2D
    }
}
