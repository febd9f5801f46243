// libFuzzer's entry point for `scripts/fuzz.sh`, linked against the instrumented CascadeFuzz
// module (the package manager's executables name their own `main`, libFuzzer needs its own).
// CASCADE_FUZZ_TARGET picks the target.
import CascadeFuzz
import Foundation

private let target = FuzzTarget(rawValue: ProcessInfo.processInfo.environment["CASCADE_FUZZ_TARGET"] ?? "") ?? {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    FileHandle.standardError.write(Data("set CASCADE_FUZZ_TARGET to one of: \(names)\n".utf8))
    exit(2)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    target.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
