import CascadeCache
import CascadeRESP
import CascadeWire
import NIOCore

/// HELLO, AUTH, CLIENT, COMMAND and CONFIG: what clients send when they connect.
extension CommandExecutor {
    func hello(_ arguments: [ByteBuffer], _ session: inout Session, _ out: inout ByteBuffer) {
        var version = session.version
        var index = 1
        if arguments.count > 1 {
            guard let requested = arguments[1].integerValue else {
                return out.writeRESPError("ERR Protocol version is not an integer or out of range")
            }
            guard let parsed = RESPProtocolVersion(rawValue: requested) else {
                return out.writeRESPError("NOPROTO unsupported protocol version")
            }
            version = parsed
            index = 2
        }
        var authenticated = session.authenticated
        var name = session.name
        while index < arguments.count {
            if arguments[index].equalsKeyword("AUTH"), index + 2 < arguments.count {
                guard checkPassword(user: arguments[index + 1], password: arguments[index + 2]) else {
                    return out.writeRESPError("WRONGPASS invalid username-password pair or user is disabled.")
                }
                authenticated = true
                index += 3
            } else if arguments[index].equalsKeyword("SETNAME"), index + 1 < arguments.count {
                name = arguments[index + 1].text
                index += 2
            } else {
                return out.writeRESPError("ERR Syntax error in HELLO option '\(arguments[index].text)'")
            }
        }
        guard authenticated else {
            return out.writeRESPError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
        }
        session.version = version
        session.authenticated = true
        session.name = name
        out.writeRESPValue(.map([
            (.bulk("server"), .bulk("redis")),
            (.bulk("version"), .bulk(InfoReport.redisVersion)),
            (.bulk("proto"), .integer(version.rawValue)),
            (.bulk("id"), .integer(session.id)),
            (.bulk("mode"), .bulk("standalone")),
            (.bulk("role"), .bulk("master")),
            (.bulk("modules"), .array([])),
        ]), version)
    }

    func auth(_ arguments: [ByteBuffer], _ session: inout Session, _ out: inout ByteBuffer) {
        guard arguments.count <= 3 else { return out.writeRESPError(CommandExecutor.syntaxError) }
        guard settings.requirePass != nil else {
            return out.writeRESPError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
        }
        let user = arguments.count == 3 ? arguments[1] : ByteBuffer(string: "default")
        guard checkPassword(user: user, password: arguments[arguments.count - 1]) else {
            return out.writeRESPError("WRONGPASS invalid username-password pair or user is disabled.")
        }
        session.authenticated = true
        out.writeRESPOK()
    }

    private func checkPassword(user: ByteBuffer, password: ByteBuffer) -> Bool {
        guard user.equalsKeyword("DEFAULT") else { return false }
        guard let expected = settings.requirePass else { return true }
        // Compare every byte whatever the first difference, so timing tells nothing.
        let given = Array(password.readableBytesView)
        let wanted = Array(expected.utf8)
        var difference = given.count ^ wanted.count
        for index in 0..<max(given.count, wanted.count) {
            difference |= Int((index < given.count ? given[index] : 0) ^ (index < wanted.count ? wanted[index] : 0))
        }
        return difference == 0
    }

    func client(_ arguments: [ByteBuffer], _ session: inout Session, _ out: inout ByteBuffer) {
        let sub = arguments[1]
        if sub.equalsKeyword("ID") {
            out.writeRESPInteger(session.id)
        } else if sub.equalsKeyword("SETNAME"), arguments.count == 3 {
            let name = arguments[2].text
            guard !name.contains(" "), !name.contains("\n") else {
                return out.writeRESPError("ERR Client names cannot contain spaces, newlines or special characters.")
            }
            session.name = name.isEmpty ? nil : name
            out.writeRESPOK()
        } else if sub.equalsKeyword("GETNAME") {
            if let name = session.name { out.writeRESPBulkString(name) } else { out.writeRESPNull(session.version) }
        } else if sub.equalsKeyword("SETINFO") || sub.equalsKeyword("NO-EVICT") || sub.equalsKeyword("NO-TOUCH") {
            out.writeRESPOK()
        } else if sub.equalsKeyword("INFO") || sub.equalsKeyword("LIST") {
            out.writeRESPBulkString("id=\(session.id) name=\(session.name ?? "") db=0 resp=\(session.version.rawValue)\n")
        } else {
            out.writeRESPError("ERR unknown subcommand '\(sub.text.prefix(64))'. Try CLIENT HELP.")
        }
    }

    func command(_ arguments: [ByteBuffer], _ session: Session, _ out: inout ByteBuffer) {
        if arguments.count == 1 { return out.writeRESPArrayHeader(0) }
        let sub = arguments[1]
        if sub.equalsKeyword("COUNT") {
            out.writeRESPInteger(CommandTable.specs.count)
        } else if sub.equalsKeyword("DOCS") {
            // redis-cli asks for docs to show hints; none is a valid answer.
            out.writeRESPMapHeader(0, session.version)
        } else if sub.equalsKeyword("INFO") {
            out.writeRESPArrayHeader(arguments.count - 2)
            for _ in 2..<arguments.count { out.writeRESPNullArray(session.version) }
        } else if sub.equalsKeyword("LIST") {
            let names = CommandTable.specs.values.map(\.name).sorted()
            out.writeRESPValue(.array(names.map { .bulk($0) }), session.version)
        } else {
            out.writeRESPError("ERR unknown subcommand '\(sub.text.prefix(64))'. Try COMMAND HELP.")
        }
    }

    func config(_ arguments: [ByteBuffer], _ session: Session, _ out: inout ByteBuffer) {
        let sub = arguments[1]
        if sub.equalsKeyword("GET"), arguments.count >= 3 {
            var pairs: [(RESPValue, RESPValue)] = []
            for (name, value) in configParameters() {
                if arguments[2...].contains(where: { GlobPattern.matches($0.text.lowercased(), name) }) {
                    pairs.append((.bulk(name), .bulk(value)))
                }
            }
            out.writeRESPValue(.map(pairs), session.version)
        } else if sub.equalsKeyword("SET") || sub.equalsKeyword("RESETSTAT") || sub.equalsKeyword("REWRITE") {
            out.writeRESPError("ERR CONFIG \(sub.upperASCII) is not supported by a cascade node; use its flags")
        } else {
            out.writeRESPError("ERR unknown subcommand '\(sub.text.prefix(64))'. Try CONFIG HELP.")
        }
    }

    private func configParameters() -> [(String, String)] {
        let configuration = node.configuration
        return [
            ("maxmemory", String(configuration.store.maxMemoryBytes ?? 0)),
            ("maxmemory-policy", configuration.store.maxMemoryBytes == nil ? "noeviction" : "allkeys-lru"),
            ("maxmemory-samples", String(configuration.store.evictionSamples)),
            ("maxclients", String(settings.maxConnections)),
            ("proto-max-bulk-len", String(settings.limits.maxBulkLength)),
            ("client-query-buffer-limit", String(settings.limits.maxQueryBuffer)),
            ("cascade-max-deps", String(Registration.Limits.maxDependencies)),
            ("cascade-registration-queue-limit", String(configuration.registrationQueueLimit)),
            ("port", String(configuration.port)),
            ("bind", configuration.host),
            ("databases", "1"),
            ("save", ""),
            ("appendonly", "no"),
            ("requirepass", settings.requirePass == nil ? "" : "********"),
        ]
    }
}
