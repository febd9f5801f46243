import CascadeClient
import Foundation

/// `cascade warm`: streams JSON lines into a node as pipelined `SET ... EX ... DEPS`, a batch
/// at a time, counting what the node stored, what it refused and what did not parse.
public struct NodeWarmer {
    let address: String
    let password: String?
    let timeout: Double
    let batch: Int

    public init(address: String, password: String?, timeout: Double, batch: Int) {
        self.address = address
        self.password = password
        self.timeout = timeout
        self.batch = batch
    }

    /// Opens `file`, or standard input for `-`; the size is known only for a file.
    public static func open(_ file: String) throws -> (FileHandle, totalBytes: Int?) {
        if file == "-" { return (.standardInput, nil) }
        guard let handle = FileHandle(forReadingAtPath: file) else { throw OperatorError("cannot read \(file)") }
        return (handle, (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? nil)
    }

    /// Reads `input` to its end; `name` prefixes each malformed line's message.
    public func warm(_ input: FileHandle, totalBytes: Int?, name: String) async throws -> WarmProgress {
        let client = try await NodeClient(address: address, timeout: timeout, password: password)
        var progress = WarmProgress(totalBytes: totalBytes)
        var pending: [[UInt8]] = []
        var pendingLines: [Int] = []
        var lineNumber = 0
        var carry: [UInt8] = []

        func flush() async throws {
            guard !pending.isEmpty else { return }
            let replies = try await client.pipeline(pending)
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

        func handle(_ line: ArraySlice<UInt8>) async throws {
            lineNumber += 1
            progress.bytesRead += line.count + 1
            let text = String(decoding: line, as: UTF8.self)
            guard !text.allSatisfy(\.isWhitespace) else { return }
            switch WarmRecord.parse(text[...]) {
            case .success(let record):
                pending.append(record.command)
                pendingLines.append(lineNumber)
                if pending.count >= batch { try await flush() }
            case .failure(let error):
                progress.malformed(line: lineNumber, "\(name):\(lineNumber) \(error)")
            }
        }

        while true {
            let data = input.readData(ofLength: 1 << 20)
            if data.isEmpty { break }
            carry.append(contentsOf: data)
            var start = 0
            while let newline = carry[start...].firstIndex(of: UInt8(ascii: "\n")) {
                try await handle(carry[start..<newline])
                start = newline + 1
            }
            carry.removeFirst(start)
        }
        if !carry.isEmpty { try await handle(carry[...]) }
        try await flush()
        progress.finish()
        return progress
    }
}

/// The progress line on standard error (redrawn at most ten times a second) and the first few
/// problems, each on its own line.
public struct WarmProgress {
    let totalBytes: Int?
    let startedAt = Date()
    var bytesRead = 0
    public internal(set) var stored = 0
    public private(set) var refusedCount = 0
    public private(set) var malformedCount = 0
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
