import Foundation
internal import COpenSSL

/// SHA-256 through libcrypto.
public enum SHA256 {
    /// Digest size in bytes.
    public static let byteCount = 32

    /// Hashes `data` in one call.
    /// - Parameter data: The bytes to hash.
    /// - Returns: The 32-byte digest.
    /// - Throws: ``CofferError`` `cryptoFailure` if libcrypto fails.
    public static func hash(_ data: some ContiguousBytes) throws -> [UInt8] {
        let hasher = try Hasher()
        hasher.update(data)
        return try hasher.finalize()
    }

    /// An incremental SHA-256 over one `EVP_MD_CTX`.
    public final class Hasher {
        private let context: OpaquePointer
        /// The first update libcrypto refused; ``finalize()`` throws it, so no digest of
        /// partial input is ever returned.
        private var failure: CofferError?

        /// Starts a new digest.
        /// - Throws: ``CofferError`` `cryptoFailure` if libcrypto fails.
        public init() throws {
            let md = try Algorithms.shared().sha256
            let context = try OpenSSL.check(EVP_MD_CTX_new(), "EVP_MD_CTX_new")
            guard EVP_DigestInit_ex2(context, md, nil) == 1 else {
                EVP_MD_CTX_free(context)
                throw OpenSSL.failure("EVP_DigestInit_ex2")
            }
            self.context = context
        }

        deinit { EVP_MD_CTX_free(context) }

        /// Adds bytes to the digest. If libcrypto refuses them, ``finalize()`` throws.
        /// - Parameter bytes: The next bytes of the message.
        public func update(_ bytes: UnsafeRawBufferPointer) {
            guard failure == nil, let base = bytes.baseAddress, bytes.count > 0 else { return }
            if EVP_DigestUpdate(context, base, bytes.count) != 1 { failure = OpenSSL.failure("EVP_DigestUpdate") }
        }

        /// Adds bytes to the digest. If libcrypto refuses them, ``finalize()`` throws.
        /// - Parameter bytes: The next bytes of the message.
        public func update(_ bytes: some ContiguousBytes) {
            bytes.withUnsafeBytes { update($0) }
        }

        /// Returns the digest and ends the hasher.
        /// - Returns: The 32-byte digest.
        /// - Throws: ``CofferError`` `cryptoFailure` when an update or the final step failed.
        public func finalize() throws -> [UInt8] {
            if let failure { throw failure }
            var out = [UInt8](repeating: 0, count: SHA256.byteCount)
            var length: UInt32 = 0
            try OpenSSL.check(EVP_DigestFinal_ex(context, &out, &length), "EVP_DigestFinal_ex")
            return out
        }
    }
}
