import Foundation

/// Where the `cascade` executable built next to the test bundle is, for end-to-end tests that
/// run the real binary.
public enum CascadeBinary {
    public static var url: URL {
        if let override = ProcessInfo.processInfo.environment["CASCADE_BIN"] {
            return URL(fileURLWithPath: override)
        }
        // The test runner lives in the build products folder, beside the executable.
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = runner.deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("cascade")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return candidate
            }
            folder = folder.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/cascade")
    }

    /// The package root, for tests that read `graph/` or scripts.
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}
