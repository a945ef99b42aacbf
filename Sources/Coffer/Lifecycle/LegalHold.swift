import CofferCrypto
/// A legal hold on a tenant or one of its subjects: while it is in force, nothing it covers is
/// purged or erased.
public struct LegalHold: Sendable, Codable, Hashable {
    /// The hold's id (`hold_` and 32 hex digits).
    public let id: String
    /// The tenant held, or the subject's tenant.
    public let tenant: TenantID
    /// The subject held; nil for the whole tenant.
    public let subject: SubjectID?
    /// Why (a case or matter reference; no personal data).
    public let reason: String
    /// Who placed it.
    public let placedBy: PrincipalID
    /// When (Unix milliseconds).
    public let placedAt: Int64
    /// Who lifted it, if it was.
    public let liftedBy: PrincipalID?
    /// When it was lifted (Unix milliseconds), if it was.
    public let liftedAt: Int64?

    /// Whether it is in force.
    public var isActive: Bool { liftedAt == nil }
}
