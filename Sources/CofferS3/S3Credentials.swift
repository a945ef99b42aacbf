import CofferCrypto

/// The credentials that sign S3 requests: an access key id, its secret access key and, for
/// temporary credentials, a session token.
///
/// The secret is held only as `AWS4` followed by its bytes, in ``SecureBytes`` (the first key of
/// the signing-key chain), and neither it nor the session token is ever printed.
public struct S3Credentials: Sendable, CustomStringConvertible {
    /// The access key id, such as `AKIAIOSFODNN7EXAMPLE`; it is sent in every signature.
    public let accessKeyID: String
    /// `AWS4` + the secret access key: the key of the first HMAC of the signing-key chain.
    let signingSecret: SecureBytes
    /// The session token of temporary credentials, sent as `x-amz-security-token`.
    let sessionToken: String?

    /// Credentials with the secret in zeroizing storage.
    /// - Parameters:
    ///   - accessKeyID: The access key id: 1 to 128 printable ASCII characters, no space, `/` or `,`.
    ///   - secretAccessKey: The UTF-8 bytes of the secret access key (no control characters). The
    ///     caller keeps and wipes its own buffer.
    ///   - sessionToken: The session token of temporary credentials, or nil.
    /// - Throws: ``CofferError`` `invalidArgument` when a part is empty or holds characters the
    ///   Authorization header cannot carry; the message never contains the secret or the token.
    public init(accessKeyID: String, secretAccessKey: SecureBytes, sessionToken: String? = nil) throws {
        try Self.checkAccessKeyID(accessKeyID)
        guard secretAccessKey.count > 0 else {
            throw CofferError(.invalidArgument, "the secret access key is empty")
        }
        let printable = secretAccessKey.withUnsafeBytes { bytes in bytes.allSatisfy { $0 >= 0x20 && $0 != 0x7F } }
        guard printable else {
            throw CofferError(.invalidArgument,
                              "the secret access key holds a control character (a trailing newline from its file?)")
        }
        if let sessionToken {
            guard !sessionToken.isEmpty, sessionToken.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw CofferError(.invalidArgument,
                                  "the session token is empty or holds a character other than printable ASCII")
            }
        }
        let prefix = Array("AWS4".utf8)
        self.signingSecret = SecureBytes(count: prefix.count + secretAccessKey.count) { buffer in
            buffer.copyBytes(from: prefix)
            secretAccessKey.withUnsafeBytes { secret in
                UnsafeMutableRawBufferPointer(rebasing: buffer[prefix.count...]).copyMemory(from: secret)
            }
        }
        self.accessKeyID = accessKeyID
        self.sessionToken = sessionToken
    }

    /// Credentials from a `String` secret, for tests and tools. The string's own copy cannot be
    /// wiped; a service should read the secret into ``SecureBytes`` and pass that instead.
    /// - Parameters:
    ///   - accessKeyID: The access key id.
    ///   - secretAccessKey: The secret access key.
    ///   - sessionToken: The session token of temporary credentials, or nil.
    /// - Throws: ``CofferError`` `invalidArgument`, as the `SecureBytes` initialiser.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) throws {
        try self.init(accessKeyID: accessKeyID, secretAccessKey: SecureBytes(copying: secretAccessKey.utf8),
                      sessionToken: sessionToken)
    }

    /// The access key id and whether a session token is present; never the secret or the token.
    public var description: String {
        "S3Credentials(accessKeyID: \(accessKeyID), secret redacted, session token: \(sessionToken == nil ? "none" : "redacted"))"
    }

    private static func checkAccessKeyID(_ id: String) throws {
        guard !id.isEmpty, id.utf8.count <= 128 else {
            throw CofferError(.invalidArgument, "the access key id must hold 1 to 128 characters, not \(id.utf8.count)")
        }
        // The id goes into `Credential=<id>/<scope>` of the Authorization header: no separators.
        let allowed = id.utf8.allSatisfy { (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ",") }
        guard allowed else {
            throw CofferError(.invalidArgument,
                              "the access key id holds a space, a control character, `/`, `,` or non-ASCII text")
        }
    }
}
