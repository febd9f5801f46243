import CRdKafka
import Foundation
import NIOConcurrencyHelpers

/// The one long-lived thread of a client for librdkafka's blocking calls (metadata, offset
/// look-ups, seeks, flushes, close), run one at a time in the order asked, and where its
/// asynchronous commits report back. The thread waits in a poll of a librdkafka queue of its
/// own: commit results arrive on it, and a new job wakes it with `rd_kafka_queue_yield` (whose
/// wake-up is kept if it comes before the poll, so none is lost). Started once per client, never
/// per call (see `ThreadStartGuardTests`).
final class ClientWorker: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        /// Commits sent and not yet answered, by the token that comes back with the answer.
        var commits: [UInt: CheckedContinuation<rd_kafka_resp_err_t, Never>] = [:]
        var nextCommit: UInt = 1
        /// No new work is taken; the thread leaves once the jobs taken before are done.
        var stopping = false
    }

    private let state = NIOLockedValueBox(State())
    /// Valid while not `stopping`: only calls made under the lock in that state may use it.
    private let queue: RDHandle

    init(client: RDClient, name: String) {
        queue = RDHandle(pointer: rd_kafka_queue_new(client.pointer))
        // The thread holds the client: it stays alive while a job may still be inside it.
        let thread = Thread { [self] in
            withExtendedLifetime(client) { serve() }
        }
        thread.name = name
        thread.start()
    }

    /// Runs `body` on the worker thread after the jobs asked before it; throws `.closed` once
    /// the worker is stopping.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws(KafkaError) -> T {
        // A bridge: the worker thread resumes it once, when the job has run.
        let result: T? = await withCheckedContinuation { continuation in
            let taken = state.withLockedValue { state -> Bool in
                guard !state.stopping else { return false }
                state.jobs.append { continuation.resume(returning: body()) }
                rd_kafka_queue_yield(queue.pointer)
                return true
            }
            if !taken { continuation.resume(returning: nil) }
        }
        guard let result else { throw .closed }
        return result
    }

    /// Commits the offsets stored in `client` (`rd_kafka_commit_queue`, asynchronous) and
    /// returns the broker's answer without holding a thread while it comes.
    func commitStored(_ client: RDClient) async -> rd_kafka_resp_err_t {
        // A bridge: librdkafka's commit answer (or closing) resumes it once.
        await withCheckedContinuation { continuation in
            // Sent and recorded under the lock: the answer, looked up under it, cannot overtake.
            let refused = state.withLockedValue { state -> rd_kafka_resp_err_t? in
                guard !state.stopping else { return RD_KAFKA_RESP_ERR__DESTROY }
                let token = state.nextCommit
                state.nextCommit += 1
                let code = rd_kafka_commit_queue(client.pointer, nil, queue.pointer, nil, UnsafeMutableRawPointer(bitPattern: token))
                guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { return code }
                state.commits[token] = continuation
                return nil
            }
            if let refused { continuation.resume(returning: refused) }
        }
    }

    /// Takes no new work; the thread ends after the jobs already asked for. Commits still
    /// unanswered then fail with `__DESTROY`. Never blocks.
    func stop() {
        state.withLockedValue { state in
            guard !state.stopping else { return }
            state.stopping = true
            rd_kafka_queue_yield(queue.pointer)
        }
    }

    private func serve() {
        while true {
            let (jobs, stopping) = state.withLockedValue { state in
                defer { state.jobs = [] }
                return (state.jobs, state.stopping)
            }
            for job in jobs { job() }
            if stopping && jobs.isEmpty { break }
            // Jobs came while these ran: look again before sleeping.
            guard jobs.isEmpty else { continue }
            if let event = rd_kafka_queue_poll(queue.pointer, -1) { answerCommit(event) }
        }
        let unanswered = state.withLockedValue { state in
            defer { state.commits = [:] }
            return Array(state.commits.values)
        }
        for commit in unanswered { commit.resume(returning: RD_KAFKA_RESP_ERR__DESTROY) }
        rd_kafka_queue_destroy(queue.pointer)
    }

    private func answerCommit(_ event: OpaquePointer) {
        defer { rd_kafka_event_destroy(event) }
        guard rd_kafka_event_type(event) == Int32(RD_KAFKA_EVENT_OFFSET_COMMIT) else { return }
        let token = UInt(bitPattern: rd_kafka_event_opaque(event))
        let code = rd_kafka_event_error(event)
        state.withLockedValue { $0.commits.removeValue(forKey: token) }?.resume(returning: code)
    }
}
