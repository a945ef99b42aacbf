import Foundation
import CofferCrypto

/// What a signature says about the body: its SHA-256, or `UNSIGNED-PAYLOAD`. Sent as
/// `x-amz-content-sha256` and signed as the last line of the canonical request.
public struct PayloadHash: Sendable, Hashable, CustomStringConvertible {
    /// 64 lower-case hex digits, or `UNSIGNED-PAYLOAD`.
    public let value: String

    private init(unchecked value: String) { self.value = value }

    /// The body is not hashed: S3 accepts whatever arrives (over TLS, with its own checksum).
    public static let unsigned = PayloadHash(unchecked: "UNSIGNED-PAYLOAD")

    /// The SHA-256 of an empty body (GET, HEAD, DELETE).
    public static let emptyBody =
        PayloadHash(unchecked: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

    /// A hash computed elsewhere, for example while the body was written to a file.
    /// - Parameter hex: 64 hex digits (upper case is lowered).
    /// - Throws: ``CofferError`` `invalidArgument` when `hex` is not 64 hex digits.
    public init(hex: String) throws {
        let lower = hex.lowercased()
        guard lower.utf8.count == 64, lower.utf8.allSatisfy({ Hex.digits.contains($0) }) else {
            throw CofferError(.invalidArgument,
                              "a payload hash must be 64 hex digits (SHA-256) or UNSIGNED-PAYLOAD, not \(hex.utf8.count) characters")
        }
        self.value = lower
    }

    /// The SHA-256 of `body`.
    /// - Parameter body: The whole request body.
    /// - Returns: Its hash.
    /// - Throws: ``CofferError`` `cryptoFailure` if libcrypto fails.
    public static func sha256(of body: some ContiguousBytes) throws -> PayloadHash {
        PayloadHash(unchecked: Hex.lower(try SHA256.hash(body)))
    }

    /// The value, as sent.
    public var description: String { value }
}
