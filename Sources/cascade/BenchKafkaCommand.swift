import ArgumentParser

struct BenchKafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka", abstract: "Produce and consume through the embedded broker, next to raw librdkafka.")
}
