import CascadeClient
import Foundation

/// One line of a `cascade warm` file: `{"key": "...", "value": "...", "ttl": 600, "deps":
/// ["Product#p-17@41"]}`. `ttl` (seconds) and `deps` may be left out; a value that is not a
/// string is stored as its compact JSON text.
public struct WarmRecord: Equatable, Sendable {
    public var key: String
    public var value: [UInt8]
    public var ttlSeconds: Int?
    public var deps: [String]

    public init(key: String, value: [UInt8], ttlSeconds: Int? = nil, deps: [String] = []) {
        self.key = key
        self.value = value
        self.ttlSeconds = ttlSeconds
        self.deps = deps
    }

    /// Parses one line; the error is a sentence naming what is wrong.
    public static func parse(_ line: Substring) -> Result<WarmRecord, WarmLineError> {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed]) as? [String: Any] else {
            return .failure(WarmLineError("is not a JSON object"))
        }
        guard let key = object["key"] as? String, !key.isEmpty else { return .failure(WarmLineError("has no \"key\" string")) }
        let value: [UInt8]
        switch object["value"] {
        case let text as String: value = Array(text.utf8)
        case nil, is NSNull: return .failure(WarmLineError("has no \"value\""))
        case let other?:
            guard let data = try? JSONSerialization.data(withJSONObject: other, options: [.fragmentsAllowed, .sortedKeys]) else {
                return .failure(WarmLineError("has a \"value\" that is not JSON"))
            }
            value = Array(data)
        }
        var ttl: Int?
        switch object["ttl"] {
        case nil, is NSNull: ttl = nil
        case let number as NSNumber where number.doubleValue == number.doubleValue.rounded():
            ttl = number.intValue
            if number.intValue <= 0 { return .failure(WarmLineError("has a \"ttl\" that is not a positive number of seconds")) }
        default: return .failure(WarmLineError("has a \"ttl\" that is not a whole number of seconds"))
        }
        var deps: [String] = []
        switch object["deps"] {
        case nil, is NSNull: break
        case let list as [Any]:
            for item in list {
                guard let text = item as? String, !text.isEmpty else { return .failure(WarmLineError("has a \"deps\" entry that is not a string")) }
                deps.append(text)
            }
        default: return .failure(WarmLineError("has \"deps\" that is not a list of strings"))
        }
        return .success(WarmRecord(key: key, value: value, ttlSeconds: ttl, deps: deps))
    }

    /// `SET key value [EX ttl] [DEPS dep ...]`, encoded for the wire.
    public var command: [UInt8] {
        var arguments: [[UInt8]] = [Array("SET".utf8), Array(key.utf8), value]
        if let ttlSeconds { arguments += [Array("EX".utf8), Array(String(ttlSeconds).utf8)] }
        if !deps.isEmpty { arguments += [Array("DEPS".utf8)] + deps.map { Array($0.utf8) } }
        return encodeRESPCommand(arguments)
    }
}

public struct WarmLineError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
