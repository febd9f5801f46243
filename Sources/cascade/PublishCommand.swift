import ArgumentParser
import CascadeCheck
import CascadeClient
import CascadeGraph
import CascadeKafka
import CascadeTracing
import CascadeWire
import Foundation
import Logging

struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish one domain event (or JSON lines from stdin with '-').",
        discussion: """
            cascade publish Product#p-17 --version 42 --attr category=shoes
            cat events.jsonl | cascade publish -
            Prints where each event went (topic, partition, offset); --format json prints \
            {"topic","partition","offset","token"}, the token being what CASCADE.AFTER takes.
            With --wait, returns once every live node (from the bus's /nodes, or the status \
            file's nodes) has applied what the event caused there, printing \
            `applied <service> <nodes> <ms>` per service; exit 3 after --wait-timeout, naming \
            the nodes still behind.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Argument(help: "Entity#id, or '-' to read JSON events, one per line, from stdin.")
    var ref: String

    @Option(help: "The entity instance's version at its origin.")
    var version: UInt64?

    @Option(help: "create, update or delete.")
    var op: String = "update"

    @Option(name: .customLong("attr"), help: "An attribute k=v for template bindings (repeatable).")
    var attrs: [String] = []

    @Option(help: "The origin service named in the event.")
    var origin: String = "cascade-cli"

    @Option(help: "Kafka bootstrap servers.")
    var kafka: String?

    @Option(help: "Read the broker and topic prefix from the file `cascade dev --status-file` wrote.")
    var statusFile: String?

    @OptionGroup var kafkaProperties: KafkaPropertyOptions

    @Option(help: "text or json.")
    var format: Format = .text

    @Flag(help: "Return once every live node has applied what the event caused (strong read).")
    var wait = false

    @Option(help: "How long --wait waits, e.g. 10s, 500ms.")
    var waitTimeout: String = "10s"

    @Option(help: "URL of the bus's admin API, to find the live nodes for --wait.")
    var admin: String?

    @Option(help: "Bearer token of the bus's admin API.")
    var adminToken: String?

    @Option(help: "Password of the nodes (their --requirepass), for --wait.")
    var requirepass: String?

    @Option(help: "A W3C traceparent (00-<trace id>-<parent id>-<flags>) sent as the events' `traceparent` header: the bus and nodes continue that trace.")
    var traceparent: String?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if ref != "-" {
            guard EntityRef(parsing: ref) != nil else { throw ValidationError("'\(ref)' is not Entity#id") }
            guard version != nil else { throw ValidationError("--version is required") }
            guard DomainEvent.Operation(rawValue: op) != nil else { throw ValidationError("--op must be create, update or delete") }
            for attr in attrs where !attr.contains("=") { throw ValidationError("--attr '\(attr)' is not k=v") }
        }
        guard kafka != nil || statusFile != nil else { throw ValidationError("give --kafka or --status-file") }
        guard let timeout = TTLDuration.milliseconds(waitTimeout), timeout > 0 else {
            throw ValidationError("--wait-timeout '\(waitTimeout)' is not a duration such as 10s or 500ms")
        }
        if wait && admin == nil && statusFile == nil { throw ValidationError("--wait needs --admin URL or --status-file to find the nodes") }
        if wait && ref == "-" { throw ValidationError("--wait publishes one event, not a stream from stdin") }
        if let traceparent, Traceparent(traceparent) == nil {
            throw ValidationError("--traceparent '\(traceparent)' is not 00-<32 hex>-<16 hex>-<2 hex> (lower case, ids not all zeros)")
        }
    }

    func run() async throws {
        _ = common.bootstrapLogging(label: "cascade.publish")
        var bootstrap = kafka ?? ""
        var topics = Topics(prefix: common.topicPrefix)
        var status: StatusFile?
        if let statusFile {
            status = try StatusFile.read(statusFile)
            bootstrap = kafka ?? status?.kafka ?? ""
            topics = Topics(prefix: status?.topicPrefix ?? common.topicPrefix)
        }
        let configuration = KafkaConfiguration(
            bootstrapServers: bootstrap,
            properties: try kafkaProperties.parsed().merging(["message.timeout.ms": "10000"]) { old, _ in old })
        let producer = try KafkaProducer(configuration: configuration)
        var failed = false
        var last: DeliveryReport?
        let headers = traceparent.map { [KafkaHeader(name: "traceparent", string: $0)] } ?? []
        for (key, value) in events() {
            do throws(KafkaError) {
                let report = try await producer.send(topic: topics.events, key: key, value: value, headers: headers)
                last = report
                switch format {
                case .text: printLine("published \(key) to \(report.topic)[\(report.partition)]@\(report.offset)")
                case .json:
                    printLine(#"{"topic":"\#(report.topic)","partition":\#(report.partition),"offset":\#(report.offset),"token":"\#(report.partition):\#(report.offset)"}"#)
                }
            } catch {
                failed = true
                FileHandle.standardError.write(Data("could not publish \(key): \(error)\n".utf8))
            }
        }
        await producer.shutdown()
        if failed { throw ExitCode(1) }
        if wait, let last { try await awaitApplied(token: "\(last.partition):\(last.offset)", status: status) }
    }

    /// --wait: every live node answers CASCADE.AFTER for the token, or exit 3.
    private func awaitApplied(token: String, status: StatusFile?) async throws {
        let nodes = try await AppliedWait.nodes(admin: admin, adminToken: adminToken, status: status)
        let timeoutMillis = TTLDuration.milliseconds(waitTimeout) ?? 10_000
        let answers = await AppliedWait(password: requirepass, timeoutMillis: timeoutMillis).ask(nodes, token: token)
        AppliedWait.appliedLines(answers).forEach(printLine)
        let behind = AppliedWait.behindLines(answers)
        guard behind.isEmpty else {
            for line in behind { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            throw ExitCode(3)
        }
    }

    /// The events to send as (Kafka key, JSON bytes).
    private func events() -> [(String, [UInt8])] {
        guard ref == "-" else {
            guard let entity = EntityRef(parsing: ref), let version, let operation = DomainEvent.Operation(rawValue: op) else { return [] }
            return [PublishedEvents.single(ref: entity, op: operation, version: version, origin: origin, attrs: attrs)]
        }
        return PublishedEvents.lines { readLine() }
    }
}
