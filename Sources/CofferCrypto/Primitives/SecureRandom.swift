internal import COpenSSL

/// The process's cryptographically secure random source (`RAND_bytes`).
public enum SecureRandom {
    /// Fills `buffer` with random bytes.
    /// - Parameter buffer: The bytes to overwrite.
    /// - Throws: ``CofferError`` with code `cryptoFailure` if the generator fails.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) throws {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        var done = 0
        while done < buffer.count {
            // RAND_bytes takes an `int` length: larger buffers are filled in pieces.
            let n = min(buffer.count - done, 1 << 30)
            try OpenSSL.check(RAND_bytes(base.assumingMemoryBound(to: UInt8.self) + done, Int32(n)), "RAND_bytes")
            done += n
        }
    }

    /// Returns `count` random bytes (for salts, nonces and identifiers, not for keys: use
    /// ``SecureBytes/random(count:)`` for those).
    /// - Parameter count: How many bytes.
    /// - Returns: The random bytes.
    /// - Throws: ``CofferError`` `cryptoFailure` if the generator fails.
    public static func bytes(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { (buffer) throws in try fill(buffer) }
        return out
    }
}
