import CofferCrypto
import Foundation

extension Vault {
    /// One object's details and versions.
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - objectID: The object.
    ///   - context: Who asks and why (metadata: service, support, privacy officers).
    /// - Returns: The object with its committed versions and its decrypted name.
    /// - Throws: `CofferError` `notFound` when the tenant has no such object (another tenant's
    ///   object is reported the same way), `unknownTenant`, `accessDenied`, `tamperDetected`.
    public func stat(tenant: TenantID, objectID: ObjectID, context: AccessContext) async throws -> ObjectInfo {
        try tenant.validate()
        try IdentifierRules.validateReference(objectID.rawValue, as: "object id")
        let request = AccessRequest(action: .stat, dataClass: .metadata, tenant: tenant, objectID: objectID.rawValue)
        return try await guarded(context, request) { _ in
            try await contentStore.object(tenant: tenant, id: objectID)
        }
    }

    /// A page of the tenant's objects, most recently updated first.
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - filter: Kind, page size (1 to 1000) and the cursor of the previous page.
    ///   - context: Who asks and why.
    /// - Returns: The page and the cursor of the next one (nil on the last page).
    /// - Throws: `CofferError` `invalidArgument` (limit, cursor), `unknownTenant`, `accessDenied`.
    public func list(tenant: TenantID, filter: ObjectFilter = ObjectFilter(), context: AccessContext) async throws -> ObjectPage {
        try tenant.validate()
        guard (1...1000).contains(filter.limit) else { throw CofferError(.invalidArgument, "limit must be 1 to 1000") }
        let request = AccessRequest(action: .list, dataClass: .metadata, tenant: tenant, objectKind: filter.kind?.code)
        return try await guarded(context, request) { _ in
            try await contentStore.page(tenant: tenant, filter: filter)
        }
    }

    /// Deletes one version, or the whole object when `version` is nil. Freed pages are zeroed
    /// (`secure_delete`), and the WAL is checkpointed and truncated so that the zeroed pages
    /// replace the old ones in the database file and the WAL keeps no copy. That checkpoint
    /// waits a quarter of a second for readers; if one is in the way, the result says so and the
    /// vault retries (``VaultMaintenance``, the next delete, ``close()``, the next open).
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - objectID: The object.
    ///   - version: One version, or nil for the whole object.
    ///   - context: Who deletes and why.
    /// - Returns: Whether the old ciphertext is already gone from the files.
    /// - Throws: `CofferError` `notFound`, `accessDenied`, `storage`.
    @discardableResult
    public func delete(tenant: TenantID, objectID: ObjectID, version: Int? = nil, context: AccessContext) async throws -> DeletionOutcome {
        try tenant.validate()
        try IdentifierRules.validateReference(objectID.rawValue, as: "object id")
        let request = AccessRequest(action: .delete, dataClass: .content, tenant: tenant, objectID: objectID.rawValue, objectVersion: version)
        return try await guarded(context, request) { _ in
            try await contentStore.delete(tenant: tenant, objectID: objectID, version: version)
        }
    }
}

/// Where a deleted object's ciphertext is once ``Vault/delete(tenant:objectID:version:context:)``
/// returns.
public struct DeletionOutcome: Sendable, Hashable, Codable {
    /// True when the WAL was checkpointed and truncated: the ciphertext is in neither the
    /// database file nor its WAL. False while a reader holds the WAL: until the vault's retry
    /// succeeds, the old pages are still in `content.sqlite` and its WAL.
    public let ciphertextCleared: Bool
}
