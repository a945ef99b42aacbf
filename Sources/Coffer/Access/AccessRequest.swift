import CofferCrypto
import Foundation

/// What an access is about, for policy and the log.
struct AccessRequest: Sendable {
    var action: AccessAction
    var dataClass: DataClass
    var tenant: TenantID?
    var subject: SubjectID?
    /// The object, or the principal concerned for administration.
    var objectID: String?
    var objectVersion: Int?
    var objectKind: String?
    var bytes: Int64?
    var grantID: GrantID?
    /// What an allowed access's record says beside its fields (a refusal's reason is its message).
    var reason: String?
    /// True when the access concerns the whole vault though its action alone does not say so
    /// (the access log's sizes and roots, a record of no tenant): only a principal without a
    /// tenant limit may make it (``Policy/isVaultWide(_:_:)``).
    var vaultWide = false
}
