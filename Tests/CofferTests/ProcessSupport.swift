import Foundation
import Testing
@testable import Coffer
import CofferCrypto

/// What a finished child process left: its exit status (128 + signal when a signal ended it),
/// standard output and standard error.
struct ProcessResult {
    let status: Int32
    let output: String
    let error: String
}

/// Runs `executable` (a path, or a name looked up in PATH) to completion with `posix_spawnp`,
/// standard streams in files, the test process's environment with `overrides` applied (a nil
/// value removes the variable). Foundation's `Process.run()` is avoided: on this toolchain it
/// intermittently crashes the test process (see `CofferCLI.spawn`).
func spawnProcess(_ executable: String, _ arguments: [String], input: Data? = nil,
                  environment overrides: [String: String?] = [:]) throws -> ProcessResult {
    var environment = ProcessInfo.processInfo.environment
    for (name, value) in overrides { environment[name] = value }
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-spawn-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let inPath = scratch.appendingPathComponent("stdin").path
    let outPath = scratch.appendingPathComponent("stdout").path
    let errPath = scratch.appendingPathComponent("stderr").path
    try (input ?? Data()).write(to: URL(fileURLWithPath: inPath))

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
    }
    // posix_spawnp looks the name up in the PATH of the child's environment (glibc uses the
    // parent's PATH, which is the same here unless an override changes it).
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for pointer in argv + envp { free(pointer) } }
    var pid: pid_t = 0
    let spawned = posix_spawnp(&pid, executable, &actions, nil, argv, envp)
    guard spawned == 0 else { throw CofferError(.io, "posix_spawnp \(executable) failed: \(String(cString: strerror(spawned)))") }
    var wait: Int32 = 0
    while waitpid(pid, &wait, 0) < 0 {
        guard errno == EINTR else { throw CofferError(.io, "waitpid failed: \(String(cString: strerror(errno)))") }
    }
    let status = wait & 0x7f == 0 ? (wait >> 8) & 0xff : 128 + (wait & 0x7f)
    return ProcessResult(status: status, output: String(decoding: try Data(contentsOf: URL(fileURLWithPath: outPath)), as: UTF8.self),
                         error: String(decoding: try Data(contentsOf: URL(fileURLWithPath: errPath)), as: UTF8.self))
}

/// Runs a committed Python script of `scripts/` with python3. A missing python3 fails the test
/// (it throws), and so does a script exiting 4, which is how the scripts say a package they need
/// is missing: a verification that could not run must never pass.
func runPythonScript(_ name: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessResult {
    let script = repositoryRoot.appendingPathComponent("scripts").appendingPathComponent(name).path
    let result: ProcessResult
    do {
        result = try spawnProcess("python3", [script] + arguments)
    } catch {
        Issue.record("python3 could not be started (\(error)); install Python 3 and `python3 -m pip install cryptography`",
                     sourceLocation: sourceLocation)
        throw error
    }
    if result.status == 4 || result.status == 127 {
        Issue.record("\(name) could not run: \(result.error)", sourceLocation: sourceLocation)
        throw CofferError(.io, "\(name) could not run")
    }
    return result
}
