import CofferCrypto
import Foundation

/// Dual control: which changes wait for a second admin, and the queue they wait in.
extension AccessAdministration {
    /// True while the vault has two or more admins without a tenant limit: until then its first
    /// operator acts alone.
    func isUnderDualControl() throws -> Bool {
        try store.allPrincipals().filter(\.entitlement.isUnlimitedAdmin).count >= 2
    }

    /// True when making principal `id` hold `after` (nil: removing it) needs a second admin's
    /// approval. Under dual control that is a change that widens it (a new role in
    /// ``PendingChange/dualControlRoles``, or, for an existing principal, tenants beyond the ones
    /// it has, no limit included) or that would leave fewer than two admins without a tenant
    /// limit (otherwise one admin could re-scope or remove the other and then act alone).
    /// - Parameters:
    ///   - id: The principal.
    ///   - before: It as registered now; nil for a new one.
    ///   - after: What it will hold; nil when it is removed.
    func needsApproval(_ id: PrincipalID, from before: Principal?, to after: Entitlement?) throws -> Bool {
        let unlimitedAdmins = try store.allPrincipals().filter(\.entitlement.isUnlimitedAdmin).map(\.id)
        guard unlimitedAdmins.count >= 2 else { return false }
        let remaining = unlimitedAdmins.filter { $0 != id }.count + (after?.isUnlimitedAdmin == true ? 1 : 0)
        guard let after else { return remaining < 2 }
        let addedRoles = after.roles.subtracting(before?.roles ?? [])
        let widerScope = before.map { !$0.covers(scope: after.tenants) } ?? false
        return !PendingChange.dualControlRoles.isDisjoint(with: addedRoles) || widerScope || remaining < 2
    }

    /// Queues a change for a second admin's approval.
    func requestChange(_ change: PendingChange) async throws {
        try await store.insertPending(change)
    }

    /// The changes waiting for approval, oldest first.
    func pendingChanges() throws -> [PendingChange] {
        try store.pendingChanges()
    }

    /// The pending change `changeID`, or nil.
    func pendingChange(_ changeID: String) throws -> PendingChange? {
        try store.pendingChange(changeID)
    }

    /// Carries out the principal change `changeID` on a second admin's approval (an audit prune
    /// only leaves the queue: the access log deletes the records) and removes it from the queue.
    /// - Returns: The change.
    /// - Throws: ``CofferError`` `notFound`, `alreadyExists`.
    func applyPending(_ changeID: String, by actor: PrincipalID) async throws -> PendingChange {
        try await store.applyPending(changeID, by: actor, at: nowMilliseconds())
    }
}
