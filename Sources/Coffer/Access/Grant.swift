/// A temporary permission to access one tenant's personal data (or one subject's), for one
/// purpose, until a time, issued by a privacy officer with a reason.
public struct Grant: Sendable, Codable, Hashable {
    /// The grant id (`grant_` and 32 hex digits).
    public let id: GrantID
    /// Who may access.
    public let grantee: PrincipalID
    /// Whose tenant.
    public let tenant: TenantID
    /// One subject only, or nil for every subject of the tenant.
    public let subject: SubjectID?
    /// For which purpose.
    public let purpose: Purpose
    /// Why it was granted.
    public let reason: String
    /// Who granted it.
    public let issuedBy: PrincipalID
    /// When (Unix milliseconds).
    public let issuedAt: Int64
    /// Until when (Unix milliseconds).
    public let expiresAt: Int64
    /// When it was revoked, if it was.
    public let revokedAt: Int64?
    /// Who revoked it.
    public let revokedBy: PrincipalID?

    /// True when the grant is in force at `time`.
    public func isActive(at time: Int64) -> Bool { revokedAt == nil && time < expiresAt }

    /// True when it covers `subject` of `tenant` for `purpose`.
    public func covers(tenant: TenantID, subject: SubjectID?, purpose: Purpose) -> Bool {
        self.tenant == tenant && self.purpose == purpose && (self.subject == nil || self.subject == subject)
    }
}
