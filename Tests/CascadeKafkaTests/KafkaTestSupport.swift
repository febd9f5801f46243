import CascadeKafka
import Foundation
import NIOCore

/// Reads messages from a consumer until `count` have arrived or the deadline passes.
func collect(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(30)) async throws -> [KafkaMessage] {
    try await withThrowingTaskGroup(of: [KafkaMessage]?.self) { group in
        group.addTask {
            var messages: [KafkaMessage] = []
            for await event in consumer.events {
                if case .messages(let batch) = event { messages += batch }
                if messages.count >= count { break }
            }
            return messages
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        guard let messages = first else { throw TestTimeout(what: "\(count) messages") }
        return messages
    }
}

/// Waits for the consumer's first assignment.
func awaitAssignment(_ consumer: KafkaConsumer, timeout: Duration = .seconds(30)) async throws -> [TopicPartition] {
    try await withThrowingTaskGroup(of: [TopicPartition]?.self) { group in
        group.addTask {
            for await event in consumer.events {
                if case .assigned(let partitions) = event { return partitions }
            }
            return nil
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        guard let partitions = first else { throw TestTimeout(what: "an assignment") }
        return partitions
    }
}

struct TestTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

func uniqueTopic(_ name: String = #function) -> String {
    let clean = name.filter { $0.isLetter || $0.isNumber }
    return "test-\(clean.prefix(40))-\(UInt32.random(in: 0...UInt32.max))"
}
