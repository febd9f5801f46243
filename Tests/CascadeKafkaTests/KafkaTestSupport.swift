import CascadeKafka
import Foundation
import NIOCore

/// Reads messages from a consumer until `count` have arrived or the deadline passes.
func collect(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(30)) async throws -> [KafkaMessage] {
    try await firstResult(within: timeout, waitingFor: "\(count) messages") {
        var messages: [KafkaMessage] = []
        for await event in consumer.events {
            if case .messages(let batch) = event { messages += batch }
            if messages.count >= count { break }
        }
        return messages
    }
}

/// Waits for the consumer's first assignment.
func awaitAssignment(_ consumer: KafkaConsumer, timeout: Duration = .seconds(30)) async throws -> [TopicPartition] {
    try await firstResult(within: timeout, waitingFor: "an assignment") {
        for await event in consumer.events {
            if case .assigned(let partitions) = event { return partitions }
        }
        return nil
    }
}

/// What `body` returns, or `TestTimeout` when it returns nil or `timeout` passes first (a
/// consumer's events never end on their own, so the wait is raced against a clock).
private func firstResult<T: Sendable>(
    within timeout: Duration, waitingFor what: String, _ body: @escaping @Sendable () async -> T?
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        guard let result = first else { throw TestTimeout(what: what) }
        return result
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
