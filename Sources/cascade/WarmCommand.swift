import ArgumentParser
import CascadeCheck
import Foundation

struct WarmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warm",
        abstract: "Load a cold node from JSON lines {\"key\",\"value\",\"ttl\",\"deps\"} through pipelined SET ... EX ... DEPS.",
        discussion: """
            Reads FILE (or standard input for -), one JSON object a line; blank lines are \
            skipped. Prints a progress line on standard error and a summary on standard output. \
            Exits 1 when a line does not parse or the node refuses a value (e.g. -STALE: the \
            value is older than an invalidation the node applied), 2 when the node is unreachable.
            """
    )

    @Option(help: "The service whose node is warmed.")
    var service: String

    @Option(help: "The node's host:port.")
    var node: String?

    @Option(help: "Status file written by `cascade dev --status-file`: the service's node is taken from it.")
    var statusFile: String?

    @Option(help: "Password of the node.")
    var password: String?

    @Option(help: "Commands sent per pipelined batch.")
    var batch: Int = 512

    @Option(help: "Seconds to wait for the node's replies.")
    var timeout: Double = 10

    @Argument(help: "JSON lines file, or - for standard input.")
    var file: String

    func validate() throws {
        guard (node == nil) != (statusFile == nil) else { throw ValidationError("give exactly one of --node and --status-file") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        let address: String
        if let node {
            address = node
        } else {
            let status = try StatusFile.read(statusFile ?? "")
            guard let found = status.nodes[service] else {
                throw CLIError("the status file has no node for \(service) (it has \(status.nodes.keys.sorted().joined(separator: ", ")))")
            }
            address = found
        }
        let input: FileHandle
        var totalBytes: Int?
        if file == "-" {
            input = .standardInput
        } else {
            guard let handle = FileHandle(forReadingAtPath: file) else { throw CLIError("cannot read \(file)") }
            input = handle
            totalBytes = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? nil
        }
        let client = try NodeClient(address: address, timeout: timeout, password: password)
        var progress = WarmProgress(totalBytes: totalBytes)
        var pending: [[UInt8]] = []
        var pendingLines: [Int] = []
        var lineNumber = 0
        var carry: [UInt8] = []

        func flush() throws {
            guard !pending.isEmpty else { return }
            let replies = try client.pipeline(pending)
            for (reply, line) in zip(replies, pendingLines) {
                if case .error(let message) = reply {
                    progress.refused(line: line, message)
                } else {
                    progress.stored += 1
                }
            }
            pending = []
            pendingLines = []
            progress.draw()
        }

        func handle(_ line: ArraySlice<UInt8>) throws {
            lineNumber += 1
            progress.bytesRead += line.count + 1
            let text = String(decoding: line, as: UTF8.self)
            guard !text.allSatisfy(\.isWhitespace) else { return }
            switch WarmRecord.parse(text[...]) {
            case .success(let record):
                pending.append(record.command)
                pendingLines.append(lineNumber)
                if pending.count >= batch { try flush() }
            case .failure(let error):
                progress.malformed(line: lineNumber, "\(file == "-" ? "stdin" : file):\(lineNumber) \(error)")
            }
        }

        while true {
            let data = input.readData(ofLength: 1 << 20)
            if data.isEmpty { break }
            carry.append(contentsOf: data)
            var start = 0
            while let newline = carry[start...].firstIndex(of: UInt8(ascii: "\n")) {
                try handle(carry[start..<newline])
                start = newline + 1
            }
            carry.removeFirst(start)
        }
        if !carry.isEmpty { try handle(carry[...]) }
        try flush()
        progress.finish()
        print("warmed \(service) at \(address): \(progress.stored) stored, \(progress.refusedCount) refused, \(progress.malformedCount) malformed")
        if progress.refusedCount + progress.malformedCount > 0 { throw ExitCode(1) }
    }
}

/// The progress line on standard error (redrawn at most ten times a second) and the first few
/// problems, each on its own line.
struct WarmProgress {
    let totalBytes: Int?
    let startedAt = Date()
    var bytesRead = 0
    var stored = 0
    var refusedCount = 0
    var malformedCount = 0
    private var lastDraw = Date.distantPast
    private var problemsShown = 0
    static let maxProblemsShown = 10

    init(totalBytes: Int?) { self.totalBytes = totalBytes }

    mutating func refused(line: Int, _ message: String) {
        refusedCount += 1
        problem("line \(line): the node refused the value: \(message)")
    }

    mutating func malformed(line: Int, _ message: String) {
        malformedCount += 1
        problem(message)
    }

    private mutating func problem(_ text: String) {
        guard problemsShown < WarmProgress.maxProblemsShown else { return }
        problemsShown += 1
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text + "\n").utf8))
    }

    mutating func draw(force: Bool = false) {
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let elapsed = max(now.timeIntervalSince(startedAt), 0.001)
        var line = "\r\u{1B}[K"
        if let totalBytes, totalBytes > 0 {
            let fraction = min(1, Double(bytesRead) / Double(totalBytes))
            let filled = Int(fraction * 30)
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled) + "] "
            line += String(format: "%3.0f%% ", fraction * 100)
        }
        line += "\(stored) stored, \(refusedCount + malformedCount) problems, \(Int(Double(stored) / elapsed)) keys/s"
        FileHandle.standardError.write(Data(line.utf8))
    }

    mutating func finish() {
        draw(force: true)
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
