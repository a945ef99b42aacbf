import Foundation
internal import COpenSSL

/// SHA-256 through libcrypto.
public enum SHA256 {
    /// Digest size in bytes.
    public static let byteCount = 32

    /// Hashes `data` in one call.
    public static func hash(_ data: some ContiguousBytes) throws -> [UInt8] {
        let hasher = try Hasher()
        hasher.update(data)
        return try hasher.finalize()
    }

    /// An incremental SHA-256 over one `EVP_MD_CTX`.
    public final class Hasher {
        private let context: OpaquePointer

        /// Starts a new digest.
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

        /// Adds bytes to the digest.
        public func update(_ bytes: UnsafeRawBufferPointer) {
            guard let base = bytes.baseAddress, bytes.count > 0 else { return }
            // EVP_DigestUpdate on an initialised SHA-256 context cannot fail.
            _ = EVP_DigestUpdate(context, base, bytes.count)
        }

        /// Adds bytes to the digest.
        public func update(_ bytes: some ContiguousBytes) {
            let context = self.context
            bytes.withUnsafeBytes { b in
                guard let base = b.baseAddress, b.count > 0 else { return }
                _ = EVP_DigestUpdate(context, base, b.count)
            }
        }

        /// Returns the digest and ends the hasher.
        public func finalize() throws -> [UInt8] {
            var out = [UInt8](repeating: 0, count: SHA256.byteCount)
            var length: UInt32 = 0
            try OpenSSL.check(EVP_DigestFinal_ex(context, &out, &length), "EVP_DigestFinal_ex")
            return out
        }
    }
}
