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
    /// The person's name.
    case name
    /// Their email address (also in the blind index).
    case email
    /// Their company.
    case company
    /// Their password's scrypt hash (never returned by reads).
    case passwordHash = "password-hash"
    /// The last four digits of their card.
    case billingLast4 = "billing-last4"
    /// Their billing address.
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
    /// The identifier's id.
    public let id: String
    /// An IP address, in canonical text form.
    public let ip: String?
    /// A user agent.
    public let userAgent: String?
    /// A device description.
    public let device: String?
    /// When it was first seen (Unix milliseconds).
    public let firstSeen: Int64
    /// When it was last seen (Unix milliseconds).
    public let lastSeen: Int64
}

/// What the vault holds about one person, as an authorised reader sees it.
public struct SubjectRecord: Sendable, Codable, Hashable {
    /// The subject id (`subj_` and 32 hex digits).
    public let id: SubjectID
    /// The tenant the person belongs to.
    public let tenant: TenantID
    /// Whether their data may be processed.
    public let status: SubjectStatus
    /// Their name, when asked for and present.
    public let name: String?
    /// Their email address, when asked for and present.
    public let email: String?
    /// Their company, when asked for and present.
    public let company: String?
    /// The last four digits of their card, when asked for and present.
    public let billingLast4: String?
    /// Their billing address, when asked for and present.
    public let billingAddress: String?
    /// Whether a password is set (its hash is never returned).
    public let hasPassword: Bool
    /// Every consent event, oldest first.
    public let consents: [Consent]
    /// Technical identifiers seen for them, oldest first.
    public let identifiers: [TechnicalIdentifier]
    /// When the subject was added (Unix milliseconds).
    public let createdAt: Int64
    /// When a field last changed (Unix milliseconds).
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
    /// - Parameters:
    ///   - passwordPolicy: The policy new passwords must meet.
    ///   - passwordHashing: scrypt parameters for new hashes.
    public init(passwordPolicy: PasswordPolicy = PasswordPolicy(), passwordHashing: PasswordHashParameters = .recommended) {
        self.passwordPolicy = passwordPolicy
        self.passwordHashing = passwordHashing
    }
}
