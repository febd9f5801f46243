import ArgumentParser

struct KafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka", abstract: "Run the embedded Kafka broker (librdkafka's mock cluster).")
}
