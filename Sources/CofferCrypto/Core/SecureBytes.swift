internal import COpenSSL

/// A fixed-size heap buffer for secrets. Its whole capacity is wiped with `OPENSSL_cleanse`
/// when the last reference goes away, and it never prints its contents.
public final class SecureBytes: @unchecked Sendable {
    // Sendable: the bytes are written only during initialisation; afterwards they are read-only.
    private let storage: UnsafeMutableRawBufferPointer

    /// The number of bytes held.
    public let count: Int

    /// Allocates `count` bytes and lets `initialize` fill them. The buffer is wiped if
    /// `initialize` throws.
    /// - Parameters:
    ///   - count: The size in bytes.
    ///   - initialize: Writes the secret into the new buffer.
    /// - Throws: Whatever `initialize` throws.
    public init<E: Error>(
        count: Int,
        initializingWith initialize: (UnsafeMutableRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        precondition(count >= 0, "negative SecureBytes size")
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        do {
            try initialize(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
        } catch {
            SecureBytes.wipe(storage)
            storage.deallocate()
            throw error
        }
        self.storage = storage
        self.count = count
    }

    /// Copies `bytes` into a new zeroizing buffer.
    /// - Parameter bytes: The secret; the caller remains responsible for wiping its own copy.
    public convenience init(copying bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        self.init(count: array.count) { buffer in
            buffer.copyBytes(from: array)
        }
    }

    /// Random bytes from `RAND_bytes`.
    /// - Parameter count: How many bytes.
    /// - Returns: `count` random bytes in zeroizing storage.
    /// - Throws: ``CofferError`` with code `cryptoFailure` if the generator fails.
    public static func random(count: Int) throws -> SecureBytes {
        try SecureBytes(count: count) { (buffer) throws in
            try SecureRandom.fill(buffer)
        }
    }

    deinit {
        SecureBytes.wipe(storage)
        storage.deallocate()
    }

    /// Gives read access to the secret bytes.
    /// - Parameter body: Reads the bytes; the pointer is valid only during the call.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws.
    public func withUnsafeBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// Compares with another secret in constant time (for equal lengths).
    /// - Parameter other: The secret to compare with.
    /// - Returns: Whether both hold the same bytes (false for different lengths).
    public func constantTimeEquals(_ other: SecureBytes) -> Bool {
        withUnsafeBytes { a in other.withUnsafeBytes { b in ConstantTime.equals(a, b) } }
    }

    /// Overwrites `buffer` with zeros in a way the compiler may not remove (`OPENSSL_cleanse`).
    /// - Parameter buffer: The bytes to zero.
    public static func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        OPENSSL_cleanse(base, buffer.count)
    }
}

extension SecureBytes: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String { "SecureBytes(\(count) bytes, redacted)" }
    public var debugDescription: String { description }
}
