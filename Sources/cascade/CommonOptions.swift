import ArgumentParser
import CascadeClient
import CascadeKafka
import Foundation
import Logging

/// Flags every long-running command shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "Prefix of Cascade's topic names.")
    var topicPrefix: String = "cascade."

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    /// Sends logs to standard error, so standard output carries only what scripts read.
    func bootstrapLogging(label: String) -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            // librdkafka is chatty about reconnects; keep it one step quieter than us.
            handler.logLevel = label == "librdkafka" ? max(level, .warning) : level
            return handler
        }
        return Logger(label: label)
    }
}

/// `-X key=value`: librdkafka properties passed through, the same on every command that speaks Kafka.
struct KafkaPropertyOptions: ParsableArguments {
    @Option(name: .customShort("X"), help: .init("A librdkafka property, e.g. for SASL/TLS (repeatable).", valueName: "key=value"))
    var properties: [String] = []

    func parsed() throws -> [String: String] { try KafkaConfiguration.parseProperties(properties) }
}

/// Prints one line and flushes, so a reader on a pipe sees it at once.
func printLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// A user mistake or an unreachable dependency: printed as one plain sentence, no stack trace.
typealias CLIError = OperatorError
