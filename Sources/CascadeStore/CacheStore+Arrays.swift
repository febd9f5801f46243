import CascadeWire

/// Byte-array conveniences for tests and cold paths; the server uses the buffer-pointer API.
extension CacheStore {
    public func get(_ key: [UInt8]) -> [UInt8]? {
        var result: [UInt8]?
        let found = key.withUnsafeBytes { keyBytes in get(keyBytes) { result = Array($0) } }
        return found ? result : nil
    }

    @discardableResult
    public func set(
        _ key: [UInt8], _ value: [UInt8], condition: SetCondition = .always, expiry: SetExpiry = .none,
        dependencies: [Dependency]? = nil
    ) -> SetOutcome {
        key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                set(keyBytes, valueBytes, condition: condition, expiry: expiry, dependencies: dependencies)
            }
        }
    }

    @discardableResult
    public func delete(_ key: [UInt8]) -> Bool { key.withUnsafeBytes { delete($0) } }
    public func exists(_ key: [UInt8]) -> Bool { key.withUnsafeBytes { exists($0) } }
    public func timeToLive(_ key: [UInt8]) -> TimeToLive { key.withUnsafeBytes { timeToLive($0) } }
    public func expire(_ key: [UInt8], at time: Int64) -> Bool { key.withUnsafeBytes { expire($0, at: time) } }
    public func report(_ key: [UInt8]) -> KeyReport { key.withUnsafeBytes { report($0) } }

    public func leaseGet(_ key: [UInt8], dependencies: [Dependency] = []) -> (value: [UInt8]?, outcome: LeaseOutcome) {
        var value: [UInt8]?
        let outcome = key.withUnsafeBytes { leaseGet($0, dependencies: dependencies) { value = Array($0) } }
        return (value, outcome)
    }

    public func leaseSet(
        _ key: [UInt8], token: UInt64, value: [UInt8], expiry: SetExpiry = .none, dependencies: [Dependency] = []
    ) -> SetOutcome {
        key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                leaseSet(keyBytes, token: token, value: valueBytes, expiry: expiry, dependencies: dependencies).outcome
            }
        }
    }
}
