#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SecureBytes {
    /// Loads a raw 256-bit key from a file holding 32 raw bytes or 64 hex characters (a trailing
    /// newline is allowed). Like a keyring, the file must not be readable by group or others.
    /// - Parameter path: The key file.
    /// - Returns: The 32-byte key.
    /// - Throws: ``CofferError`` `keyringUnreadable`, `keyringInsecure` or `invalidKey`.
    public static func loadRawKey(from path: String) throws -> SecureBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CofferError(.keyringUnreadable, "cannot open key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw CofferError(.keyringUnreadable, "key file \(path) is not a regular file")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw CofferError(.keyringInsecure,
                              "key file \(path) is open to group or others (mode \(String(mode, radix: 8))); run chmod 600 \(path)")
        }
        let contents = try SecureBytes(count: 130) { buffer in
            _ = try FileDescriptorIO.readFully(fd, into: buffer)
        }
        let size = Int(info.st_size)
        return try contents.withUnsafeBytes { bytes in
            if size == 32 { return SecureBytes(count: 32) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<32])) } }
            var length = min(size, bytes.count)
            while length > 0, bytes[length - 1] == 0x0A || bytes[length - 1] == 0x0D { length -= 1 }
            guard length == 64 else {
                throw CofferError(.invalidKey,
                                  "key file \(path) holds \(size) bytes; it must hold 32 raw bytes or 64 hex characters")
            }
            return try SecureBytes(count: 32) { out in
                for i in 0..<32 {
                    guard let high = KeyringFileParser.nibble(bytes[2 * i]), let low = KeyringFileParser.nibble(bytes[2 * i + 1]) else {
                        throw CofferError(.invalidKey, "key file \(path) holds 64 characters that are not all hex digits")
                    }
                    out[i] = high << 4 | low
                }
            }
        }
    }
}
