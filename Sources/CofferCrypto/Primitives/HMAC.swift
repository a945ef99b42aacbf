import Foundation
internal import COpenSSL
internal import CCofferShims

/// HMAC-SHA256 through libcrypto's `EVP_MAC`.
public enum HMACSHA256 {
    /// Tag size in bytes.
    public static let byteCount = 32

    /// Computes HMAC-SHA256 of `message` under `key`.
    /// - Parameters:
    ///   - message: The bytes to authenticate.
    ///   - key: The MAC key.
    /// - Returns: The 32-byte tag.
    /// - Throws: ``CofferError`` `cryptoFailure` if libcrypto fails.
    public static func authenticate(_ message: some ContiguousBytes, key: SecureBytes) throws -> [UInt8] {
        let mac = try Authenticator(key: key)
        mac.update(message)
        return try mac.finalize()
    }

    /// Checks `tag` against HMAC-SHA256 of `message` in constant time.
    /// - Parameters:
    ///   - tag: The tag to check.
    ///   - message: The bytes it should authenticate.
    ///   - key: The MAC key.
    /// - Returns: True when `tag` is the tag of `message`.
    /// - Throws: ``CofferError`` `cryptoFailure` if libcrypto fails.
    public static func isValid(_ tag: some ContiguousBytes, for message: some ContiguousBytes,
                               key: SecureBytes) throws -> Bool {
        ConstantTime.equals(try authenticate(message, key: key), tag)
    }

    /// An incremental HMAC-SHA256. Call ``finalize()`` once.
    public final class Authenticator {
        private let context: OpaquePointer
        /// The first update libcrypto refused; ``finalize()`` throws it, so no tag of partial
        /// input is ever returned.
        private var failure: CofferError?

        /// Starts a MAC under `key`.
        /// - Parameter key: The MAC key.
        /// - Throws: ``CofferError`` `cryptoFailure` if libcrypto fails.
        public init(key: SecureBytes) throws {
            let mac = try Algorithms.shared().hmac
            let context = try OpenSSL.check(EVP_MAC_CTX_new(mac), "EVP_MAC_CTX_new")
            let ok = key.withUnsafeBytes { k in
                coffer_hmac_sha256_init(context, k.baseAddress?.assumingMemoryBound(to: UInt8.self), k.count)
            }
            guard ok == 1 else {
                EVP_MAC_CTX_free(context)
                throw OpenSSL.failure("EVP_MAC_init(HMAC-SHA256)")
            }
            self.context = context
        }

        deinit { EVP_MAC_CTX_free(context) }

        /// Adds bytes to the message. If libcrypto refuses them, ``finalize()`` throws.
        /// - Parameter bytes: The next bytes of the message.
        public func update(_ bytes: some ContiguousBytes) {
            bytes.withUnsafeBytes { b in
                guard failure == nil, let base = b.baseAddress, b.count > 0 else { return }
                if EVP_MAC_update(context, base.assumingMemoryBound(to: UInt8.self), b.count) != 1 {
                    failure = OpenSSL.failure("EVP_MAC_update")
                }
            }
        }

        /// Returns the tag and ends the computation.
        /// - Returns: The 32-byte tag.
        /// - Throws: ``CofferError`` `cryptoFailure` when an update or the final step failed.
        public func finalize() throws -> [UInt8] {
            if let failure { throw failure }
            var out = [UInt8](repeating: 0, count: HMACSHA256.byteCount)
            var length = 0
            try OpenSSL.check(EVP_MAC_final(context, &out, &length, out.count), "EVP_MAC_final")
            return out
        }
    }
}
