import Foundation
import Testing
@testable import Coffer
import CofferCrypto

/// A `coffer` process started with `posix_spawn`, its standard output and error going to files.
///
/// Foundation's `Process.run()` on this toolchain sometimes crashes the whole test process
/// (SIGSEGV in a memcpy while it scans /proc/self/fd; swift-corelibs-foundation PR 5472), the
/// more often the more processes a run launches, so no test uses it.
final class LaunchedCLI {
    let pid: pid_t
    /// The write end of the child's standard input when it was launched with `pipeInput`, else -1.
    private(set) var input: Int32
    private let scratch: URL

    fileprivate init(pid: pid_t, input: Int32, scratch: URL) {
        self.pid = pid
        self.input = input
        self.scratch = scratch
    }

    deinit {
        if input >= 0 { close(input) }
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Writes `data` to the child's standard input (launched with `pipeInput`).
    func write(_ data: Data) throws {
        try data.withUnsafeBytes { try FileDescriptorIO.writeAll(input, $0) }
    }

    /// Closes the child's standard input.
    func closeInput() {
        if input >= 0 { close(input) }
        input = -1
    }

    /// Waits for the child to end: its exit status (or 128 + the signal that ended it), and
    /// what it wrote to standard output and error.
    func wait() throws -> (status: Int32, output: String, error: String) {
        closeInput()
        var wait: Int32 = 0
        while waitpid(pid, &wait, 0) < 0 {
            guard errno == EINTR else { throw CofferError(.io, "waitpid failed: \(String(cString: strerror(errno)))") }
        }
        let status = wait & 0x7f == 0 ? (wait >> 8) & 0xff : 128 + (wait & 0x7f)
        let output = try Data(contentsOf: scratch.appendingPathComponent("stdout"))
        let errors = try Data(contentsOf: scratch.appendingPathComponent("stderr"))
        return (status, String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
    }
}

extension CofferCLI {
    /// Starts `coffer` with raw argument bytes (which need not be UTF-8) and the environment of
    /// ``environment(_:)``. Standard input is `input` from a file, or a pipe to write to when
    /// `pipeInput` is set.
    func launch(raw arguments: [[UInt8]], input: Data? = nil, pipeInput: Bool = false,
                environment overrides: [String: String?] = [:]) throws -> LaunchedCLI {
        let path = executable.path
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-spawn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let inPath = scratch.appendingPathComponent("stdin").path
        let outPath = scratch.appendingPathComponent("stdout").path
        let errPath = scratch.appendingPathComponent("stderr").path
        try (input ?? Data()).write(to: URL(fileURLWithPath: inPath))

        var pipeFDs: [Int32] = [-1, -1]
        if pipeInput {
            // A child that dies while the test writes to it must fail the write, not kill the tests.
            signal(SIGPIPE, SIG_IGN)
            guard pipe(&pipeFDs) == 0 else { throw CofferError(.io, "pipe failed: \(String(cString: strerror(errno)))") }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if pipeInput {
            posix_spawn_file_actions_adddup2(&actions, pipeFDs[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // The child keeps none of the test process's other descriptors (glibc 2.34+).
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([Array(path.utf8)] + arguments).map { bytes in
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (i, b) in bytes.enumerated() { copy[i] = CChar(bitPattern: b) }
            copy[bytes.count] = 0
            return copy
        } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment(overrides).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { pointer?.deallocate() }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        if pipeInput { close(pipeFDs[0]) }
        guard spawned == 0 else {
            if pipeInput { close(pipeFDs[1]) }
            throw CofferError(.io, "posix_spawn \(path) failed: \(String(cString: strerror(spawned)))")
        }
        return LaunchedCLI(pid: pid, input: pipeInput ? pipeFDs[1] : -1, scratch: scratch)
    }

    /// Starts `coffer` with `arguments`; see ``launch(raw:input:pipeInput:environment:)``.
    func launch(_ arguments: [String], input: Data? = nil, pipeInput: Bool = false,
                environment overrides: [String: String?] = [:]) throws -> LaunchedCLI {
        try launch(raw: arguments.map { Array($0.utf8) }, input: input, pipeInput: pipeInput, environment: overrides)
    }

    /// Runs `coffer` to completion with `posix_spawn`: exit status (or 128 + the signal that
    /// ended it), standard output and standard error.
    @discardableResult
    func spawn(_ arguments: [String], input: Data? = nil,
               environment overrides: [String: String?] = [:]) throws -> (status: Int32, output: String, error: String) {
        try launch(arguments, input: input, environment: overrides).wait()
    }
}
