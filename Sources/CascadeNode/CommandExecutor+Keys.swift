import CascadeRESP
import NIOCore

/// SCAN and KEYS.
extension CommandExecutor {
    func scan(_ arguments: [ByteBuffer], _ session: Session, _ out: inout ByteBuffer) {
        guard let cursorText = Optional(arguments[1].text), let cursor = UInt64(cursorText) else {
            return out.writeRESPError("ERR invalid cursor")
        }
        var pattern: ByteBuffer?
        var count = 10
        var index = 2
        while index < arguments.count {
            guard index + 1 < arguments.count else { return out.writeRESPError(CommandExecutor.syntaxError) }
            if arguments[index].equalsKeyword("MATCH") {
                pattern = arguments[index + 1]
            } else if arguments[index].equalsKeyword("COUNT") {
                guard let parsed = arguments[index + 1].integerValue else { return out.writeRESPError(CommandExecutor.notInteger) }
                guard parsed >= 1 else { return out.writeRESPError(CommandExecutor.syntaxError) }
                count = min(parsed, 100_000)
            } else if arguments[index].equalsKeyword("TYPE") {
                // Every value is a string: any other type matches nothing.
                if !arguments[index + 1].equalsKeyword("STRING") { pattern = ByteBuffer(string: "[]") }
            } else {
                return out.writeRESPError(CommandExecutor.syntaxError)
            }
            index += 2
        }
        var found: [ByteBuffer] = []
        let next = store.scan(cursor: cursor, count: count) { key in
            if let pattern, !pattern.withUnsafeReadableBytes({ GlobPattern.matches($0, key) }) { return }
            found.append(ByteBuffer(bytes: key))
        }
        out.writeRESPArrayHeader(2)
        out.writeRESPBulkString(String(next))
        out.writeRESPArrayHeader(found.count)
        for key in found { out.writeRESPBulkString(key) }
    }

    func keys(_ arguments: [ByteBuffer], _ session: Session, _ out: inout ByteBuffer) {
        let pattern = arguments[1]
        var found: [ByteBuffer] = []
        var cursor: UInt64 = 0
        repeat {
            cursor = store.scan(cursor: cursor, count: 1024) { key in
                if pattern.withUnsafeReadableBytes({ GlobPattern.matches($0, key) }) { found.append(ByteBuffer(bytes: key)) }
            }
        } while cursor != 0
        out.writeRESPArrayHeader(found.count)
        for key in found { out.writeRESPBulkString(key) }
    }
}
