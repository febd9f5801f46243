import ArgumentParser
import CascadeKafka
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
            Prints where each event went (topic, partition, offset).
            """
    )

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

    @Option(name: .customShort("X"), help: "A librdkafka property key=value (repeatable).")
    var properties: [String] = []

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if ref != "-" {
            guard EntityRef(parsing: ref) != nil else { throw ValidationError("'\(ref)' is not Entity#id") }
            guard version != nil else { throw ValidationError("--version is required") }
            guard DomainEvent.Operation(rawValue: op) != nil else { throw ValidationError("--op must be create, update or delete") }
            for attr in attrs where !attr.contains("=") { throw ValidationError("--attr '\(attr)' is not k=v") }
        }
        guard kafka != nil || statusFile != nil else { throw ValidationError("give --kafka or --status-file") }
    }

    func run() async throws {
        _ = common.bootstrapLogging(label: "cascade.publish")
        var bootstrap = kafka ?? ""
        var topics = Topics(prefix: common.topicPrefix)
        if let statusFile {
            let status = try StatusFile.read(statusFile)
            bootstrap = kafka ?? status.kafka
            topics = Topics(prefix: status.topicPrefix)
        }
        let configuration = KafkaConfiguration(
            bootstrapServers: bootstrap,
            properties: try KafkaConfiguration.parseProperties(properties).merging(["message.timeout.ms": "10000"]) { old, _ in old })
        let producer = try KafkaProducer(configuration: configuration)
        var failed = false
        for (key, value) in try events() {
            do throws(KafkaError) {
                let report = try await producer.send(topic: topics.events, key: key, value: value)
                printLine("published \(key) to \(report.topic)[\(report.partition)]@\(report.offset)")
            } catch {
                failed = true
                FileHandle.standardError.write(Data("could not publish \(key): \(error)\n".utf8))
            }
        }
        await producer.shutdown()
        if failed { throw ExitCode(1) }
    }

    /// The events to send as (Kafka key, JSON bytes).
    private func events() throws -> [(String, [UInt8])] {
        guard ref == "-" else {
            guard let entity = EntityRef(parsing: ref), let version, let operation = DomainEvent.Operation(rawValue: op) else { return [] }
            var attributes: [String: String] = [:]
            for attr in attrs {
                let parts = attr.split(separator: "=", maxSplits: 1)
                attributes[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            let event = DomainEvent(
                ref: entity, op: operation, version: version, origin: origin, atMillis: Timestamps.nowMillis(),
                attrs: attributes, eventID: UUID().uuidString.lowercased())
            return [(event.kafkaKey, JSONEventEncoder.encode(event))]
        }
        // Lines are sent as they are (the bus validates them); the key comes from the line
        // when it parses, so one entity's events stay on one partition.
        var result: [(String, [UInt8])] = []
        while let line = readLine() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            let bytes = Array(trimmed.utf8)
            let key = (try? JSONEventDecoder().decode(bytes))?.kafkaKey ?? "unparsed"
            result.append((key, bytes))
        }
        return result
    }
}
