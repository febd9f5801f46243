import CascadeStore
import CascadeWire
import NIOCore

/// The options of SET and LEASE.SET: NX|XX, GET, EX|PX|EXAT|PXAT|KEEPTTL, and DEPS (always last).
struct SetCommandOptions {
    var condition: SetCondition = .always
    var expiry: SetExpiry = .none
    var returnPrevious = false
    var dependencies: [Dependency]?

    struct Failure: Error {
        var message: String
    }

    /// `allowed` limits the options for LEASE.SET (no NX/XX/GET/KEEPTTL there).
    static func parse(
        _ arguments: [ByteBuffer], from start: Int, command: String, service: String, now: () -> Int64, leaseOptionsOnly: Bool = false
    ) -> Result<SetCommandOptions, Failure> {
        var options = SetCommandOptions()
        var sawExpiry = false
        var index = start
        let syntax = Failure(message: CommandExecutor.syntaxError)
        while index < arguments.count {
            let option = arguments[index]
            if option.equalsKeyword("DEPS") {
                guard index + 1 < arguments.count else { return .failure(syntax) }
                switch parseDependencies(arguments[(index + 1)...], service: service) {
                case .success(let dependencies): options.dependencies = dependencies
                case .failure(let failure): return .failure(failure)
                }
                return .success(options)
            } else if !leaseOptionsOnly && option.equalsKeyword("NX") {
                guard options.condition == .always else { return .failure(syntax) }
                options.condition = .ifAbsent
            } else if !leaseOptionsOnly && option.equalsKeyword("XX") {
                guard options.condition == .always else { return .failure(syntax) }
                options.condition = .ifPresent
            } else if !leaseOptionsOnly && option.equalsKeyword("GET") {
                options.returnPrevious = true
            } else if !leaseOptionsOnly && option.equalsKeyword("KEEPTTL") {
                guard !sawExpiry else { return .failure(syntax) }
                sawExpiry = true
                options.expiry = .keep
            } else if let unit = expiryUnit(option, leaseOptionsOnly: leaseOptionsOnly) {
                guard !sawExpiry, index + 1 < arguments.count else { return .failure(syntax) }
                sawExpiry = true
                guard let amount = arguments[index + 1].integerValue else {
                    return .failure(Failure(message: CommandExecutor.notInteger))
                }
                let invalid = Failure(message: "ERR invalid expire time in '\(command)' command")
                guard amount > 0 else { return .failure(invalid) }
                let time: Int64?
                switch unit {
                case .seconds: time = absoluteTime(amount, milliseconds: false, now: now())
                case .milliseconds: time = absoluteTime(amount, milliseconds: true, now: now())
                case .unixSeconds: time = amount.multipliedReportingOverflow(by: 1000).overflow ? nil : Int64(amount) * 1000
                case .unixMilliseconds: time = Int64(amount)
                }
                guard let time else { return .failure(invalid) }
                options.expiry = .at(time)
                index += 1
            } else {
                return .failure(syntax)
            }
            index += 1
        }
        return .success(options)
    }

    private enum ExpiryUnit { case seconds, milliseconds, unixSeconds, unixMilliseconds }

    private static func expiryUnit(_ option: ByteBuffer, leaseOptionsOnly: Bool) -> ExpiryUnit? {
        if option.equalsKeyword("EX") { return .seconds }
        if option.equalsKeyword("PX") { return .milliseconds }
        if leaseOptionsOnly { return nil }
        if option.equalsKeyword("EXAT") { return .unixSeconds }
        if option.equalsKeyword("PXAT") { return .unixMilliseconds }
        return nil
    }

    /// `now` plus an amount of seconds or milliseconds; nil on overflow.
    static func absoluteTime(_ amount: Int, milliseconds: Bool, now: Int64) -> Int64? {
        let (scaled, overflow) = Int64(amount).multipliedReportingOverflow(by: milliseconds ? 1 : 1000)
        guard !overflow else { return nil }
        let (time, overflow2) = now.addingReportingOverflow(scaled)
        return overflow2 ? nil : time
    }

    /// Parses DEPS, within `Registration.Limits` (checked before any parsing, so a command
    /// with a million dependencies costs a count, not a million parses).
    static func parseDependencies(_ arguments: ArraySlice<ByteBuffer>, service: String) -> Result<[Dependency], Failure> {
        let limits = Registration.Limits.self
        guard arguments.count <= limits.maxDependencies else {
            return .failure(Failure(message: "ERR too many dependencies (\(arguments.count)); at most \(limits.maxDependencies)"))
        }
        var total = 0
        for argument in arguments {
            guard argument.readableBytes <= limits.maxDependencyBytes else {
                return .failure(Failure(message: "ERR dependency of \(argument.readableBytes) bytes; at most \(limits.maxDependencyBytes)"))
            }
            total += argument.readableBytes
        }
        guard total <= limits.maxTotalBytes else {
            return .failure(Failure(message: "ERR dependencies of \(total) bytes in all; at most \(limits.maxTotalBytes)"))
        }
        var dependencies: [Dependency] = []
        dependencies.reserveCapacity(arguments.count)
        for argument in arguments {
            do {
                dependencies.append(try Dependency.parse(argument.text, service: service))
            } catch {
                return .failure(Failure(message: "ERR invalid dependency '\(argument.text.prefix(200))': \(error)"))
            }
        }
        return .success(dependencies)
    }
}
