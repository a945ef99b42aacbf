import ArgumentParser
import Coffer
import CofferCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The personal values of one `coffer pii` command, read from `--from FILE|-`: a JSON object of
/// strings in a file or on standard input.
///
/// Personal values never pass on the command line, where `ps`, `/proc/PID/cmdline` and the shell
/// history would show them to anyone who can look. The reader is strict, since whatever it lets
/// through is stored or searched by:
///
/// - at most ``maximumBytes`` bytes, UTF-8 JSON whose top level is an object;
/// - only the keys the command takes, each once: a misspelt or repeated key is refused, not
///   silently dropped;
/// - every value a string (not a number, `true` or `null`), and the required keys present.
///
/// A source that cannot be read is `CofferError` `io`; every other refusal is
/// `invalid-argument`. Commands read their input before opening the vault, so a refusal writes
/// nothing. Messages name the source and the key, never a value.
struct PIIInput {
    /// The largest input read: 1 MiB, far more than any real set of values needs.
    static let maximumBytes = 1 << 20

    /// The values, by key; every key the reader was told is required is present.
    let values: [String: String]
    /// Where they came from, as messages name it: the path, or `standard input`.
    let label: String

    /// The value of `key`, or nil when the input has none.
    subscript(key: String) -> String? { values[key] }

    /// Reads and checks the JSON object at `source`, a path or `-` for standard input.
    /// - Parameters:
    ///   - allowed: the keys the command takes.
    ///   - required: the keys it cannot do without (each one also in `allowed`).
    static func read(_ source: String, allowed: [String], required: [String] = []) throws -> PIIInput {
        let label = source == "-" ? "standard input" : source
        return try PIIInput(parsing: readBytes(source, label: label), from: label, allowed: allowed, required: required)
    }

    /// Checks `data`, read from `label`, as ``read(_:allowed:required:)`` does.
    init(parsing data: Data, from label: String, allowed: [String], required: [String]) throws {
        guard String(validating: data, as: UTF8.self) != nil,
              let parsed = try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed) else {
            throw CofferError(.invalidArgument, "\(label) is not UTF-8 JSON; give a JSON object such as {\"\(allowed[0])\": \"...\"}")
        }
        guard let object = parsed as? [String: Any] else {
            throw CofferError(.invalidArgument, "\(label) is not a JSON object; give one such as {\"\(allowed[0])\": \"...\"}")
        }
        var values: [String: String] = [:]
        for key in object.keys.sorted() {
            guard allowed.contains(key) else {
                throw CofferError(.invalidArgument, "\(label) has \(Self.describe(key: key)); this command takes only \(Self.list(allowed))")
            }
            guard let value = object[key] as? String else {
                throw CofferError(.invalidArgument, "\"\(key)\" in \(label) must be a JSON string")
            }
            values[key] = value
        }
        guard Self.stringCount(data) == 2 * values.count else {
            throw CofferError(.invalidArgument, "\(label) has a key more than once; give each key once")
        }
        if let missing = required.first(where: { values[$0] == nil }) {
            throw CofferError(.invalidArgument, "\(label) has no \"\(missing)\"; this command needs \(Self.list(required))")
        }
        self.values = values
        self.label = label
    }

    /// The one key of `keys` the input has, and its value; anything else is `invalid-argument`.
    func exactlyOne(of keys: [String]) throws -> (key: String, value: String) {
        let present = keys.filter { values[$0] != nil }
        guard present.count == 1, let key = present.first, let value = values[key] else {
            throw CofferError(.invalidArgument, "give exactly one of \(Self.list(keys)) in \(label)")
        }
        return (key, value)
    }

    /// Refuses (`invalid-argument`) an input that has none of `keys`.
    func requireAny(of keys: [String]) throws {
        guard keys.contains(where: { values[$0] != nil }) else {
            throw CofferError(.invalidArgument, "give at least one of \(Self.list(keys)) in \(label)")
        }
    }

    /// The bytes of `source`, refused when over ``maximumBytes``.
    private static func readBytes(_ source: String, label: String) throws -> Data {
        var fd = STDIN_FILENO
        if source != "-" {
            fd = open(source, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CofferError(.io, "cannot open \(label): \(String(cString: strerror(errno)))") }
        }
        defer { if fd != STDIN_FILENO { close(fd) } }
        var buffer = [UInt8](repeating: 0, count: maximumBytes + 1)
        let count: Int
        do {
            count = try buffer.withUnsafeMutableBytes { try FileDescriptorIO.readFully(fd, into: $0) }
        } catch let error as CofferError {
            throw CofferError(.io, "cannot read \(label): \(error.message)")
        }
        guard count <= maximumBytes else {
            throw CofferError(.invalidArgument, "\(label) is larger than \(maximumBytes / 1024 / 1024) MiB; give a JSON object of a few values")
        }
        return Data(buffer[..<count])
    }

    /// The number of strings in `data`, valid JSON: for an object whose values are all strings,
    /// twice the number of its members as written, a repeated key counted each time (the parser
    /// keeps one of them).
    private static func stringCount(_ data: Data) -> Int {
        var count = 0
        var inString = false
        var escaped = false
        for byte in data {
            if escaped {
                escaped = false
            } else if inString && byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString.toggle()
                if !inString { count += 1 }
            }
        }
        return count
    }

    /// A key for a message: quoted when it looks like a field name, else left out (a key that
    /// is not a field name may be a value typed in the wrong place).
    private static func describe(key: String) -> String {
        key.wholeMatch(of: /[A-Za-z][A-Za-z0-9_-]{0,31}/) != nil ? "an unknown key \"\(key)\"" : "a key that is not a field name"
    }

    /// `keys` quoted and joined for a message.
    private static func list(_ keys: [String]) -> String {
        keys.map { "\"\($0)\"" }.joined(separator: ", ")
    }
}

/// The help of a `--from` option whose JSON object has `keys`.
func piiInputHelp(_ keys: String) -> ArgumentHelp {
    ArgumentHelp("A JSON object \(keys), in FILE or (with -) on standard input; personal values are never options.",
                 valueName: "FILE|-")
}
