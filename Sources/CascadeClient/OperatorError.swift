/// A user mistake or an unreachable dependency: printed as one plain sentence, no stack trace.
public struct OperatorError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
