import NIOConcurrencyHelpers

/// A callback installed after its caller is built (`install`), then called often, from any
/// thread; until it is installed a call does nothing and returns nil.
///
/// The closure is kept in a struct of its own, not as the lock box's value: a closure that is
/// itself a generic value is converted to and from its generic representation on every inout
/// access, and each read through `withLockedValue` wrapped it in two more thunks. The bus read
/// its delivery hook per delivery report, so after a minute a call went tens of thousands of
/// frames deep and took most of its CPU.
public final class Hook<Argument, Result>: Sendable {
    private struct Installed: Sendable {
        let call: @Sendable (Argument) -> Result
    }

    private let installed = NIOLockedValueBox<Installed?>(nil)

    public init() {}

    /// Sets the callback (the last one installed wins).
    public func install(_ call: @escaping @Sendable (Argument) -> Result) {
        installed.withLockedValue { $0 = Installed(call: call) }
    }

    /// Calls the callback outside the lock; nil when none is installed.
    @discardableResult
    public func callAsFunction(_ argument: Argument) -> Result? {
        installed.withLockedValue { $0 }?.call(argument)
    }
}
