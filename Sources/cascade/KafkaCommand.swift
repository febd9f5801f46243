import ArgumentParser
import CascadeKafka
import CascadeWire
import Logging
import ServiceLifecycle

struct KafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "Run the embedded Kafka broker (librdkafka's mock cluster).",
        discussion: """
            Prints the bootstrap servers on the first line of standard output, then serves \
            until SIGINT or SIGTERM. Cascade's topics are created with --partitions partitions.
            """
    )

    @Option(help: "Number of brokers in the cluster.")
    var brokers: Int = 1

    @Option(help: "Partitions of each topic created here and of auto-created topics.")
    var partitions: Int = 4

    @Option(name: .customLong("topic"), help: "Another topic to create (repeatable).")
    var topics: [String] = []

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard (1...16).contains(brokers) else { throw ValidationError("--brokers must be between 1 and 16") }
        guard (1...1024).contains(partitions) else { throw ValidationError("--partitions must be between 1 and 1024") }
    }

    func run() async throws {
        let logger = common.bootstrapLogging(label: "cascade.kafka")
        let kafka = try EmbeddedKafka(brokers: brokers, defaultPartitions: partitions)
        let names = Topics(prefix: common.topicPrefix)
        for topic in [names.events, names.deps, names.conflicts, names.ledger, names.dlq, names.edges, names.hops] + topics {
            try kafka.createTopic(topic, partitions: partitions, replicationFactor: min(3, brokers))
        }
        printLine(kafka.bootstrapServers)
        logger.info("embedded Kafka ready", metadata: ["bootstrap": "\(kafka.bootstrapServers)", "brokers": "\(brokers)"])
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [kafka], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).bounded())
        try await group.run()
    }
}
