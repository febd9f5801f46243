import CascadeTestSupport
import Testing

/// The real binary, driven by the real redis-cli.
@Suite struct NodeRedisCLITests {
    @Test func stringCommandsAnswerLikeRedis() async throws {
        let node = try await RunningNode.start()
        #expect(try await node.cli("PING") == "PONG")
        #expect(try await node.cli("SET", "a", "1") == "OK")
        #expect(try await node.cli("SET", "a", "2", "NX") == "")
        #expect(try await node.cli("SET", "a", "3", "XX", "GET") == "1")
        #expect(try await node.cli("GET", "a") == "3")
        #expect(try await node.cli("SET", "b", "x", "EX", "100") == "OK")
        // A loaded machine may take a second between two commands.
        #expect(["99", "100"].contains(try await node.cli("TTL", "b")))
        #expect(try await node.cli("PTTL", "nope") == "-2")
        #expect(try await node.cli("EXPIRE", "a", "50") == "1")
        #expect(["49", "50"].contains(try await node.cli("TTL", "a")))
        #expect(try await node.cli("PERSIST", "a") == "1")
        #expect(try await node.cli("TTL", "a") == "-1")
        #expect(try await node.cli("MGET", "a", "b", "c") == "3\nx")
        #expect(try await node.cli("MSET", "c", "1", "d", "2") == "OK")
        #expect(try await node.cli("EXISTS", "a", "c", "zz") == "2")
        #expect(try await node.cli("DEL", "a", "c", "zz") == "2")
        #expect(try await node.cli("TYPE", "b") == "string")
        #expect(try await node.cli("DBSIZE") == "2")
        #expect(try await node.cli("SET", "k", "v", "PX", "0") == "ERR invalid expire time in 'set' command")
        #expect(try await node.cli("SET", "k", "v", "NX", "XX") == "ERR syntax error")
        #expect(try await node.cli("GET") == "ERR wrong number of arguments for 'get' command")
        #expect(try await node.cli("FOO", "bar") == "ERR unknown command 'FOO', with args beginning with: 'bar' ")
        try await node.stop()
    }

    @Test func scanAndKeysFindEveryMatchingKey() async throws {
        let node = try await RunningNode.start()
        let load = (0..<300).map { "SET user:\($0) v\nSET other:\($0) v\n" }.joined()
        _ = try await node.cli.run([], stdin: load)
        let scanned = try await node.cli(["--scan", "--pattern", "user:*"])
        #expect(Set(scanned.split(separator: "\n")).count == 300)
        let keys = try await node.cli("KEYS", "other:1?")
        #expect(keys.split(separator: "\n").count == 10)
        try await node.stop()
    }

    @Test func infoHasTheCascadeSectionAndHelloThreeSpeaksRESP3() async throws {
        let node = try await RunningNode.start()
        try await node.cli("SET", "a", "1")
        try await node.cli("GET", "a")
        try await node.cli("GET", "missing")
        let info = try await node.cli("INFO", "cascade")
        for field in ["# Cascade", "hits:1", "misses:1", "hit_ratio:0.5000", "invalidations_applied:0", "last_applied_offset:", "lag:"] {
            #expect(info.contains(field), "\(field) in \(info)")
        }
        let hello = try await node.cli("HELLO", "3", options: ["-3"])
        #expect(hello.contains("proto") && hello.contains("3"))
        #expect(try await node.cli("GET", "missing", options: ["-3"]) == "")
        #expect(try await node.cli("CLIENT", "SETNAME", "x") == "OK")
        #expect(try await node.cli("CONFIG", "GET", "maxmemory") == "maxmemory\n0")
        try await node.stop()
    }

    @Test func extensionsLeasesDepsAndMeta() async throws {
        let node = try await RunningNode.start()
        let miss = try await node.cli("LEASE.GET", "order:9", "DEPS", "Product#p-17")
        let lines = miss.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[0].isEmpty)
        let token = String(lines.last ?? "")
        #expect(try await node.cli("LEASE.SET", "order:9", "999999", "v") .hasPrefix("NOLEASE"))
        #expect(try await node.cli("LEASE.SET", "order:9", token, "summary", "EX", "60", "DEPS", "User#u-3@2") == "OK")
        #expect(try await node.cli("LEASE.GET", "order:9") == "summary")
        #expect(try await node.cli("SET", "k", "v", "EX", "600", "DEPS", "Product#p-17@41", "user-service/user:u-3:profile") == "OK")
        let meta = try await node.cli("CASCADE.META", "k")
        for part in ["exists", "set_at_ms", "ttl_ms", "Product#p-17@41", "user-service/user:u-3:profile", "key_fence"] {
            #expect(meta.contains(part), "\(part) in \(meta)")
        }
        #expect(try await node.cli("SET", "k", "v", "DEPS", "#bad@x").hasPrefix("ERR invalid dependency"))
        try await node.stop()
    }

    @Test func requirepassGatesCommandsUntilAuth() async throws {
        let node = try await RunningNode.start(["--requirepass", "s3cret"])
        #expect(try await node.cli("GET", "a") == "NOAUTH Authentication required.")
        #expect(try await node.cli("GET", "a", options: ["-a", "s3cret", "--no-auth-warning"]) == "")
        #expect(try await node.cli("HELLO", "3", "AUTH", "default", "wrong").hasPrefix("WRONGPASS"))
        try await node.stop()
    }
}
