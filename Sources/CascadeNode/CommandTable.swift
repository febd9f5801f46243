/// Every command the node understands, with Redis's arity rule: a positive arity is exact,
/// a negative one is a minimum (both count the command name).
enum CommandKind: Sendable {
    case ping, echo, quit, hello, auth, select, client, command, config, info
    case dbsize, flushall, flushdb
    case get, mget, set, setex, psetex, mset, del, unlink, exists
    case expire, pexpire, persist, ttl, pttl, type, scan, keys
    case leaseGet, leaseSet, cascadeMeta, cascadeAfter, cascadeHotKeys

    /// Commands a connection may send before AUTH when a password is set.
    var allowedUnauthenticated: Bool {
        switch self {
        case .auth, .hello, .quit: return true
        default: return false
        }
    }
}

struct CommandSpec: Sendable {
    let kind: CommandKind
    let name: String
    let arity: Int

    func acceptsArgumentCount(_ count: Int) -> Bool {
        arity >= 0 ? count == arity : count >= -arity
    }
}

enum CommandTable {
    static let specs: [String: CommandSpec] = {
        let list: [(CommandKind, String, Int)] = [
            (.ping, "ping", -1), (.echo, "echo", 2), (.quit, "quit", -1), (.hello, "hello", -1),
            (.auth, "auth", -2), (.select, "select", 2), (.client, "client", -2), (.command, "command", -1),
            (.config, "config", -2), (.info, "info", -1), (.dbsize, "dbsize", 1), (.flushall, "flushall", -1),
            (.flushdb, "flushdb", -1), (.get, "get", 2), (.mget, "mget", -2), (.set, "set", -3),
            (.setex, "setex", 4), (.psetex, "psetex", 4), (.mset, "mset", -3), (.del, "del", -2),
            (.unlink, "unlink", -2), (.exists, "exists", -2), (.expire, "expire", -3), (.pexpire, "pexpire", -3),
            (.persist, "persist", 2), (.ttl, "ttl", 2), (.pttl, "pttl", 2), (.type, "type", 2),
            (.scan, "scan", -2), (.keys, "keys", 2), (.leaseGet, "lease.get", -2), (.leaseSet, "lease.set", -4),
            (.cascadeMeta, "cascade.meta", 2), (.cascadeAfter, "cascade.after", -2), (.cascadeHotKeys, "cascade.hotkeys", -1),
        ]
        var specs: [String: CommandSpec] = [:]
        for (kind, name, arity) in list { specs[name.uppercased()] = CommandSpec(kind: kind, name: name, arity: arity) }
        return specs
    }()
}
