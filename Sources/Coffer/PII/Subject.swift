/// Whether a data subject's data may be processed.
public enum SubjectStatus: String, Sendable, Codable, CaseIterable {
    /// Normal processing.
    case active
    /// Restricted (P17): readable only for legal or subject-request purposes.
    case restricted
    /// Erased: its key is destroyed.
    case erased
}

/// A field of a subject that holds one value.
public enum SubjectField: String, Sendable, Codable, CaseIterable {
    case name, email, company
    case passwordHash = "password-hash"
    case billingLast4 = "billing-last4"
    case billingAddress = "billing-address"

    /// The fields a correction may replace.
    public static let correctable: [SubjectField] = [.name, .email, .company, .billingAddress]
}

/// A consent given or withdrawn.
public struct Consent: Sendable, Codable, Hashable {
    /// What for, such as `marketing`.
    public let kind: String
    /// Granted (true) or withdrawn (false).
    public let granted: Bool
    /// When (Unix milliseconds).
    public let time: Int64
    /// The policy version the subject saw.
    public let policyVersion: String
}

/// A technical identifier seen for a subject. (P10 limits these to 90 days; enforcing that is
/// the retention work, which this version does not have yet.)
public struct TechnicalIdentifier: Sendable, Codable, Hashable {
    public let id: String
    public let ip: String?
    public let userAgent: String?
    public let device: String?
    public let firstSeen: Int64
    public let lastSeen: Int64
}

/// What the vault holds about one person, as an authorised reader sees it.
public struct SubjectRecord: Sendable, Codable, Hashable {
    public let id: String
    public let tenant: String
    public let status: SubjectStatus
    public let name: String?
    public let email: String?
    public let company: String?
    public let billingLast4: String?
    public let billingAddress: String?
    public let hasPassword: Bool
    /// Every consent event, oldest first.
    public let consents: [Consent]
    public let identifiers: [TechnicalIdentifier]
    public let createdAt: Int64
    public let updatedAt: Int64

    /// The latest decision for each consent kind.
    public var currentConsents: [String: Bool] {
        consents.reduce(into: [:]) { $0[$1.kind] = $1.granted }
    }
}

/// Settings of the PII vault.
public struct PIISettings: Sendable {
    /// The password policy.
    public var passwordPolicy: PasswordPolicy
    /// scrypt parameters for new hashes; older hashes are raised on the next successful verify.
    public var passwordHashing: PasswordHashParameters

    /// Creates settings.
    public init(passwordPolicy: PasswordPolicy = PasswordPolicy(), passwordHashing: PasswordHashParameters = .recommended) {
        self.passwordPolicy = passwordPolicy
        self.passwordHashing = passwordHashing
    }
}
