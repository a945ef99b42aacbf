internal import COpenSSL

/// The choke point for libcrypto results: every call's return value passes through here, and
/// any failure drains OpenSSL's thread-local error queue into the thrown ``CofferError``.
enum OpenSSL {
    /// Throws unless `result` is 1, OpenSSL's success value for most functions.
    @inline(__always)
    static func check(_ result: Int32, _ operation: StaticString) throws {
        if result != 1 { throw failure(operation) }
    }

    /// Unwraps a pointer result, throwing if libcrypto returned NULL.
    @inline(__always)
    static func check<T>(_ pointer: T?, _ operation: StaticString) throws -> T {
        guard let pointer else { throw failure(operation) }
        return pointer
    }

    /// Builds the error for a failed call and empties the error queue.
    static func failure(_ operation: StaticString) -> CofferError {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        let detail = reasons.isEmpty ? "" : " (" + reasons.joined(separator: "; ") + ")"
        return CofferError(.cryptoFailure, "libcrypto \(operation) failed\(detail)")
    }

    /// Discards anything left on the error queue (after an expected failure such as a bad tag).
    static func clearErrors() {
        ERR_clear_error()
    }
}
