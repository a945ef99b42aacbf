/// The one error type Coffer throws.
///
/// Callers match on ``code``; ``message`` is for people and says what went wrong and what to
/// do about it. Messages never contain key material, plaintext, PII or SQL arguments.
public struct CofferError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, machine-readable error code. New codes may be added in later versions.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case invalidArgument = "invalid-argument"
            case authenticationFailed = "authentication-failed"
            case truncated = "truncated"
            case invalidFormat = "invalid-format"
            case invalidKey = "invalid-key"
            case keyringUnreadable = "keyring-unreadable"
            case keyringInsecure = "keyring-insecure"
            case keyringMalformed = "keyring-malformed"
            case keyNotFound = "key-not-found"
            case cryptoFailure = "crypto-failure"
            case io = "io"
            case notFound = "not-found"
            case unknownTenant = "unknown-tenant"
            case alreadyExists = "already-exists"
            case accessDenied = "access-denied"
            case purposeMissing = "purpose-missing"
            case auditUnavailable = "audit-unavailable"
            case storage = "storage"
            case schemaMismatch = "schema-mismatch"
            case invalidPII = "invalid-pii"
            case cardNumberRefused = "card-number-refused"
            case passwordPolicy = "password-policy"
            case tamperDetected = "tamper-detected"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// An argument was out of range or malformed.
        public static let invalidArgument = Code(.invalidArgument)
        /// A ciphertext, tag or wrapped key failed authentication: tampered, wrong key or wrong AAD.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// A ciphertext or object ended before its format says it should.
        public static let truncated = Code(.truncated)
        /// Bytes that do not follow the expected format (for example a bad stream header).
        public static let invalidFormat = Code(.invalidFormat)
        /// Key material of the wrong size or shape.
        public static let invalidKey = Code(.invalidKey)
        /// The keyring file could not be read.
        public static let keyringUnreadable = Code(.keyringUnreadable)
        /// The keyring file can be read by group or others.
        public static let keyringInsecure = Code(.keyringInsecure)
        /// The keyring file is not a valid keyring.
        public static let keyringMalformed = Code(.keyringMalformed)
        /// A key id named by stored data is not in the keyring.
        public static let keyNotFound = Code(.keyNotFound)
        /// libcrypto reported a failure.
        public static let cryptoFailure = Code(.cryptoFailure)
        /// A read or write on a file or pipe failed.
        public static let io = Code(.io)
        /// The object, version, principal or record does not exist.
        public static let notFound = Code(.notFound)
        /// The tenant is not known to the vault.
        public static let unknownTenant = Code(.unknownTenant)
        /// Something with that identity already exists.
        public static let alreadyExists = Code(.alreadyExists)
        /// Policy refused the access.
        public static let accessDenied = Code(.accessDenied)
        /// The access carried no purpose, or PII access carried no justification.
        public static let purposeMissing = Code(.purposeMissing)
        /// The access log could not record the access, so the access did not happen.
        public static let auditUnavailable = Code(.auditUnavailable)
        /// The database failed.
        public static let storage = Code(.storage)
        /// A vault file has a schema this version does not know.
        public static let schemaMismatch = Code(.schemaMismatch)
        /// A PII value failed validation.
        public static let invalidPII = Code(.invalidPII)
        /// Input looked like a full payment card number, which Coffer never stores.
        public static let cardNumberRefused = Code(.cardNumberRefused)
        /// A password broke the password policy.
        public static let passwordPolicy = Code(.passwordPolicy)
        /// Stored data or the access log was changed outside Coffer.
        public static let tamperDetected = Code(.tamperDetected)

        /// The code as a stable kebab-case string, for logs and exit messages.
        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    /// What went wrong and what to do, safe to show and log.
    public let message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The stable code.
    ///   - message: A message free of secrets and personal data.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
