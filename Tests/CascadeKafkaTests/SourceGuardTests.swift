import Foundation
import Testing

/// Guards over the source tree: no thread started per call, librdkafka reached only through
/// `CascadeKafka/RDKafka/`, the module boundaries that the package graph alone allows to slip,
/// one lock style, one atomics library, few unchecked promises.
@Suite("Source guards: thread starts, C calls, module boundaries, locks and Sendable")
struct SourceGuardTests {
    /// Every place in Sources allowed to start a thread, with how many starts it holds and why.
    /// A thread here is started once per owner and lives as long as it, or the site is a known
    /// per-call start still to be replaced. Anything else fails.
    static let allowedThreadStarts: [String: (count: Int, reason: String)] = [
        "CascadeKafka/RDKafka/PollThread.swift": (1, "one poll thread per Kafka client, for its life"),
        "CascadeKafka/RDKafka/ClientWorker.swift": (1, "one worker per Kafka client for its blocking calls, for its life"),
        "CascadeBus/OwnershipDriver.swift": (1, "the bus instance's beacon loop, off the cooperative pool, for the instance's life"),
        "CascadeProcess/ChildProcess.swift": (1, "one reader per pipe of a child process, until end of file"),
        "CascadeGraphInspect/GraphSVG.swift": (1, "one writer into dot's input per `cascade graph` render, a one-shot command"),
    ]

    @Test("threads are started only by the long-lived owners on the allow-list")
    func threadStartsAreAllowListed() throws {
        var found: [String: Int] = [:]
        for (path, text) in try Self.sources() {
            let starts = Self.threadStarts(in: text)
            if starts > 0 { found[path] = starts }
        }
        for (path, count) in found.sorted(by: { $0.key < $1.key }) {
            let allowed = Self.allowedThreadStarts[path]
            #expect(allowed != nil, "\(path) starts \(count) thread(s): run blocking work on the owner's long-lived thread instead, or allow-list it with a reason")
            if let allowed { #expect(count <= allowed.count, "\(path) starts \(count) threads, \(allowed.count) allowed (\(allowed.reason))") }
        }
        // An entry whose thread has gone must go too, or it would allow the next one unseen.
        for path in Self.allowedThreadStarts.keys where found[path] == nil {
            Issue.record("\(path) is allow-listed but starts no thread: remove the entry")
        }
    }

    @Test("the thread-start scan sees each way of starting one, and not look-alikes")
    func scanSeesThreadStarts() {
        #expect(Self.threadStarts(in: "let t = Thread { work() }\nt.start()") == 1)
        #expect(Self.threadStarts(in: "let t = Thread(block: work)") == 1)
        #expect(Self.threadStarts(in: "Thread.detachNewThread { work() }") == 1)
        #expect(Self.threadStarts(in: "let p = PollThread(name: \"x\") { _ in true }") == 0)
        #expect(Self.threadStarts(in: "Thread.sleep(forTimeInterval: 1)\n// Thread { in a comment }") == 0)
    }

    @Test("librdkafka is called only from CascadeKafka/RDKafka")
    func cCallsStayInRDKafka() throws {
        let call = try NSRegularExpression(pattern: #"\brd_kafka_[A-Za-z0-9_]+\s*\("#)
        for (path, text) in try Self.sources() where !path.hasPrefix("CascadeKafka/RDKafka/") && !path.hasPrefix("CRdKafka/") {
            let calls = call.numberOfMatches(in: text, range: NSRange(text.startIndex..., in: text))
            #expect(calls == 0, "\(path) calls librdkafka \(calls) time(s): add a wrapper in CascadeKafka/RDKafka instead")
        }
    }

    @Test("every ServiceGroup in Sources stops within a bound")
    func serviceGroupsAreBounded() throws {
        let group = try NSRegularExpression(pattern: #"\bServiceGroup\s*\(\s*configuration:"#)
        var groups = 0
        for (path, text) in try Self.sources() {
            let made = group.numberOfMatches(in: text, range: NSRange(text.startIndex..., in: text))
            groups += made
            let bounded = text.components(separatedBy: ".bounded(").count - 1
            #expect(bounded >= made, "\(path) makes \(made) ServiceGroup(s), \(bounded) with `.bounded()` shutdown limits")
        }
        // The scan finds them at all (8 today: each command's, LocalSystem's, the benchmarks').
        #expect(groups >= 6)
    }

    /// Module boundaries (issue 27): the gateway shares the node's core through CascadeCache,
    /// not by importing the node; the benchmarks are imported only by the executable.
    static let forbiddenImports: [(importer: @Sendable (String) -> Bool, module: String, why: String)] = [
        ({ $0 == "CascadeGateway" }, "CascadeNode", "what the gateway shares with the node lives in CascadeCache"),
        ({ $0 != "CascadeBench" && $0 != "cascade" }, "CascadeBench", "only the executable runs the benchmarks"),
    ]

    @Test("the gateway does not import the node, and only the executable imports the benchmarks")
    func moduleBoundariesHold() throws {
        for (path, text) in try Self.sources() {
            let target = String(path.prefix { $0 != "/" })
            for module in Self.importedModules(in: text) {
                for rule in Self.forbiddenImports where rule.module == module && rule.importer(target) {
                    Issue.record("\(path) imports \(module): \(rule.why)")
                }
            }
        }
    }

    @Test("the import scan sees every form of import, and not look-alikes")
    func importScanSeesImports() {
        let text = "import CascadeNode\n@testable import CascadeBench\npublic import CascadeCache\n// import CascadeX\nlet s = \"import Y\""
        #expect(Self.importedModules(in: text) == ["CascadeNode", "CascadeBench", "CascadeCache"])
    }

    /// The modules `text` imports, in order (`@testable`, access levels and kinds allowed).
    static func importedModules(in text: String) -> [String] {
        let line = try! NSRegularExpression(
            pattern: #"^\s*(?:@\w+\s+)*(?:(?:public|package|internal|private|fileprivate)\s+)?import\s+(?:(?:struct|class|enum|func|typealias|protocol|let|var)\s+)?([A-Za-z_][A-Za-z0-9_]*)"#,
            options: [.anchorsMatchLines])
        return line.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    /// At most this many `@unchecked Sendable` in Sources: each is a promise no compiler checks.
    static let uncheckedSendableLimit = 10

    @Test("at most 10 `@unchecked Sendable` in Sources, each with a comment line above saying why")
    func uncheckedSendableIsRareAndExplained() throws {
        var total = 0
        for (path, text) in try Self.sources() {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() where Self.code(line).contains("@unchecked Sendable") {
                total += 1
                let above = number > 0 ? lines[number - 1].trimmingCharacters(in: .whitespaces) : ""
                #expect(above.hasPrefix("//"), "\(path):\(number + 1): `@unchecked Sendable` without a comment line above saying why")
            }
        }
        #expect(total <= Self.uncheckedSendableLimit, "\(total) `@unchecked Sendable` in Sources, \(Self.uncheckedSendableLimit) allowed: put the state under a lock (NIOLockedValueBox) or make one task own it")
        #expect(total > 0, "the scan found no `@unchecked Sendable` at all: is it reading Sources?")
    }

    /// Each way of locking, by what marks it in code. NIO's lock (`NIOLock`, and
    /// `NIOLockedValueBox`, which is that lock with the value it guards) is the house lock; the
    /// instance index's read-write lock is the second kind, kept for the closures that read the
    /// index in parallel.
    static let lockKinds: [(kind: String, pattern: String)] = [
        ("NIO lock", #"\bNIOLock(edValueBox)?\b"#),
        ("Synchronization.Mutex", #"\bMutex\s*[<(]"#),
        ("NSLock", #"\bNS(Recursive)?Lock\b"#),
        ("NSCondition", #"\bNSCondition(Lock)?\b"#),
        ("NIO ConditionLock", #"\bConditionLock\b"#),
        ("DispatchSemaphore", #"\bDispatchSemaphore\b"#),
        ("pthread mutex", #"\bpthread_mutex_"#),
        ("pthread read-write lock", #"\bpthread_rwlock_"#),
        ("os_unfair_lock", #"\b(os_unfair_lock|OSAllocatedUnfairLock)\b"#),
    ]

    /// The kinds of lock used in `text`, comments left out.
    static func lockKinds(in text: String) -> Set<String> {
        var kinds: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let code = Self.code(line)
            for (kind, pattern) in lockKinds where code.range(of: pattern, options: .regularExpression) != nil {
                kinds.insert(kind)
            }
        }
        return kinds
    }

    @Test("Sources lock in at most two ways")
    func atMostTwoLockKinds() throws {
        var users: [String: [String]] = [:]
        for (path, text) in try Self.sources() {
            for kind in Self.lockKinds(in: text) { users[kind, default: []].append(path) }
        }
        let summary = users.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.sorted().joined(separator: ", "))" }
        #expect(users.count <= 2, "\(users.count) kinds of lock in Sources (\(summary.joined(separator: "; "))): use NIOLockedValueBox")
        #expect(users["NIO lock"] != nil, "the scan found no NIO lock at all: is it reading Sources?")
    }

    @Test("the lock scan sees each kind, and not comments or look-alikes")
    func scanSeesLockKinds() {
        #expect(Self.lockKinds(in: "private let state = NIOLockedValueBox(State())") == ["NIO lock"])
        #expect(Self.lockKinds(in: "let lock = NIOLock()\nlet m = Mutex<Int>(0)") == ["NIO lock", "Synchronization.Mutex"])
        #expect(Self.lockKinds(in: "let c = NSCondition()\nlet l = NSLock()") == ["NSCondition", "NSLock"])
        #expect(Self.lockKinds(in: "pthread_rwlock_rdlock(lock)\npthread_mutex_lock(m)") == ["pthread read-write lock", "pthread mutex"])
        #expect(Self.lockKinds(in: "// once under an NSLock\nlet reader = ReadWriteLock()\nlet mutexes = 3") == [])
    }

    @Test("one atomics library: Synchronization's Atomic, not swift-atomics")
    func oneAtomicsLibrary() throws {
        for (path, text) in try Self.sources() {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Self.code($0) }
            #expect(!lines.contains { $0.range(of: #"^\s*import\s+Atomics\b"#, options: .regularExpression) != nil },
                    "\(path) imports swift-atomics: use Synchronization's Atomic")
            #expect(!lines.contains { $0.range(of: #"\b(Managed|Unsafe)Atomic\b"#, options: .regularExpression) != nil },
                    "\(path) uses a swift-atomics type: use Synchronization's Atomic")
        }
    }

    /// A line without its comment.
    static func code(_ line: Substring) -> String {
        line.components(separatedBy: "//")[0]
    }

    /// Starts of a thread in `text`, comments left out.
    static func threadStarts(in text: String) -> Int {
        let start = try! NSRegularExpression(pattern: #"(?<![A-Za-z0-9_])Thread(\s*[({]|\.detachNewThread)"#)
        var count = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let code = line.components(separatedBy: "//")[0]
            count += start.numberOfMatches(in: code, range: NSRange(code.startIndex..., in: code))
        }
        return count
    }

    /// Every Swift source under Sources (and the C shim), by path below it.
    static func sources() throws -> [(path: String, text: String)] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sources = root.appendingPathComponent("Sources")
        var files: [(String, String)] = []
        for case let path as String in FileManager.default.enumerator(atPath: sources.path) ?? NSEnumerator()
        where path.hasSuffix(".swift") || path.hasSuffix(".h") {
            files.append((path, try String(contentsOf: sources.appendingPathComponent(path), encoding: .utf8)))
        }
        #expect(files.count > 50, "found only \(files.count) sources under \(sources.path)")
        return files
    }
}
