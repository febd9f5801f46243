import ServiceLifecycle

extension ServiceGroupConfiguration {
    /// The same configuration with a bounded stop: graceful shutdown escalates to task
    /// cancellation after `graceful`, and cancellation to a crash after `cancellation`, so a
    /// process asked to stop always ends. The default graceful bound is above the sum of the
    /// bus's own bounded stop steps (idle, flush, acknowledgements, close: 10 s each).
    public func bounded(graceful: Duration = .seconds(60), cancellation: Duration = .seconds(15)) -> Self {
        var configuration = self
        configuration.maximumGracefulShutdownDuration = graceful
        configuration.maximumCancellationDuration = cancellation
        return configuration
    }
}
