import CascadeFuzz
import Foundation

// Built with `-sanitize=fuzzer,address -DFUZZING` (make fuzz), libFuzzer calls this for every
// input and CASCADE_FUZZ_TARGET picks the target. Built plainly, `cascade-fuzz TARGET FILE...`
// replays inputs (a crash found by the fuzzer, for instance).
#if FUZZING
private let target = FuzzTarget(rawValue: ProcessInfo.processInfo.environment["CASCADE_FUZZ_TARGET"] ?? "") ?? {
    FileHandle.standardError.write(Data("set CASCADE_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
    exit(2)
}()

private func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    target.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's driver, entered from our own `main` (the package manager names an executable's
/// entry point itself, so libFuzzer's `main` is not the one linked).
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

@main
struct FuzzMain {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
    }
}
#else
@main
struct FuzzReplay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: cascade-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...")
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            target.run(Array(data))
            print("ok \(path)")
        }
    }
}
#endif
