import CascadeGraph
import CascadeRESP
import CascadeWire
import NIOCore

/// What the fuzzers feed: each takes any bytes and must neither crash nor hang, whatever they
/// are. `scripts/fuzz.sh` (`make fuzz`) runs them under libFuzzer; the tests replay the corpus
/// in `Fuzz/corpus/<target>/`, seeds and every crash found, on each run.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// RESP commands as a client sends them, split at an arbitrary point.
    case resp
    /// Domain events as the bus decodes them.
    case events
    /// `DEPS` arguments, one per line.
    case dependencies
    /// A service file of the graph.
    case graph
    /// Invalidation batches as a node decodes them.
    case batches

    public func run(_ bytes: [UInt8]) {
        switch self {
        case .resp: Self.resp(bytes)
        case .events: _ = try? JSONEventDecoder().decode(bytes)
        case .dependencies:
            for line in bytes.split(separator: UInt8(ascii: "\n")) {
                _ = try? Dependency.parse(String(decoding: line, as: UTF8.self), service: "fuzz")
            }
        case .graph:
            _ = GraphLoader.load(files: [(path: "graph/fuzz.yaml", text: String(decoding: bytes, as: UTF8.self))])
        case .batches: _ = try? InvalidationBatch.read(bytes)
        }
    }

    /// Decodes as the node does: the bytes arrive in two reads, small limits so the fuzzer
    /// reaches the limit checks.
    private static func resp(_ bytes: [UInt8]) {
        var decoder = RESPCommandDecoder(limits: RESPLimits(maxBulkLength: 1 << 16, maxArrayLength: 1024, maxInlineLength: 1024))
        var buffer = ByteBuffer()
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        for part in [bytes[..<split], bytes[split...]] {
            buffer.writeBytes(part)
            do {
                while let command = try decoder.decode(buffer: &buffer) {
                    // Touch what the executor would: every argument.
                    _ = command.arguments.reduce(0) { $0 &+ $1.readableBytes }
                }
            } catch {
                return
            }
        }
    }
}
