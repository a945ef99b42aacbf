#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The command line as the kernel handed it over, checked before Swift decodes it.
///
/// Swift turns each argument into a `String` by replacing bytes that are not UTF-8 with U+FFFD,
/// so `--name $'x\xffy'` and `--name $'x\xfey'` would both become `x\u{FFFD}y`: two different
/// names stored as one. `coffer` refuses such arguments before anything runs.
enum RawArguments {
    /// The position (from 1) of the first argument that is not valid UTF-8, or nil.
    static func firstInvalid() -> Int? {
        let argv = CommandLine.unsafeArgv
        for index in 1..<Int(CommandLine.argc) {
            guard let pointer = argv[index] else { continue }
            let bytes = UnsafeRawBufferPointer(start: pointer, count: strlen(pointer))
            if String(validating: bytes, as: UTF8.self) == nil { return index }
        }
        return nil
    }

    /// Exits with status 1 and a message on standard error when an argument is not valid UTF-8.
    static func refuseInvalidUTF8() {
        guard let index = firstInvalid() else { return }
        let message = "coffer: error [invalid-argument]: argument \(index) is not valid UTF-8 text; "
            + "pass names, ids and text as UTF-8 (nothing was done)\n"
        let bytes = Array(message.utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        exit(1)
    }
}
