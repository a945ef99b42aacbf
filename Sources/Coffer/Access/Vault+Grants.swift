import CofferCrypto
import Foundation
import GRDB

extension Vault {
    /// Issues a temporary grant to access personal data. Only a privacy officer may, and never to
    /// themselves.
    /// - Parameters:
    ///   - grantee: The principal who may access.
    ///   - tenant: The tenant whose data.
    ///   - subject: One subject, or nil for the whole tenant.
    ///   - purpose: The one purpose the grant allows.
    ///   - expiresAt: Until when (Unix milliseconds), at most 90 days ahead.
    ///   - reason: Why (required).
    ///   - context: The privacy officer's context.
    /// - Returns: The grant.
    /// - Throws: ``CofferError`` `accessDenied`, `invalidArgument`, `notFound`.
    public func issueGrant(to grantee: String, tenant: String, subject: String? = nil, purpose: Purpose,
                           expiresAt: Int64, reason: String, context: AccessContext) async throws -> Grant {
        try Self.validateTenantID(tenant)
        try IdentifierRules.validatePrincipal(grantee, as: "grantee")
        if let subject { try IdentifierRules.validateReference(subject, as: "subject id") }
        let request = AccessRequest(action: .grant, dataClass: .administration, tenant: tenant, subject: subject, objectID: grantee)
        var decision = try decide(context, request)
        let now = clock.now()
        if case .success = decision {
            if ![Purpose.support, .customerRequest, .securityInvestigation, .legal, .subjectRequest].contains(purpose) {
                decision = .failure(CofferError(.invalidArgument, "a grant is for support, customer-request, security-investigation, legal or subject-request, not \(purpose)"))
            } else if grantee == context.actor {
                decision = .failure(CofferError(.accessDenied, "nobody may grant access to themselves"))
            } else if reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                decision = .failure(CofferError(.purposeMissing, "a grant needs a reason"))
            } else if expiresAt <= now || expiresAt > now + 90 * 86_400_000 {
                decision = .failure(CofferError(.invalidArgument, "a grant must expire in the future and within 90 days"))
            } else if (try? classKeys(tenant: tenant, kind: .config)) == nil {
                decision = .failure(CofferError(.unknownTenant, "unknown tenant '\(tenant)'"))
            } else if try principal(id: grantee) == nil {
                decision = .failure(CofferError(.notFound, "no principal '\(grantee)' to grant to"))
            }
        }
        let id = try makeIdentifier("grant")
        var granted = request
        granted.grantID = id
        try await record(context, granted, decision: decision)
        let grant = Grant(id: id, grantee: grantee, tenant: tenant, subject: subject, purpose: purpose, reason: reason,
                          issuedBy: context.actor, issuedAt: now, expiresAt: expiresAt, revokedAt: nil, revokedBy: nil)
        try await performing(context, granted) {
            try await VaultDatabase.guarded {
                try await control.write { db in
                    try db.execute(sql: """
                        INSERT INTO access_grant (id, grantee, tenant, subject, purpose, reason, issued_by, issued_at, expires_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [id, grantee, tenant, subject, purpose.code, reason, context.actor, now, expiresAt])
                }
            }
        }
        return grant
    }

    /// Revokes a grant at once.
    /// - Throws: ``CofferError`` `invalidArgument` for a malformed id (unrecorded),
    ///   `accessDenied`, `notFound`.
    public func revokeGrant(_ id: String, context: AccessContext) async throws {
        try IdentifierRules.validateReference(id, as: "grant id")
        let existing = try await VaultDatabase.guarded {
            try await control.readReleasingEarly { db in
                try Row.fetchOne(db, sql: "SELECT * FROM access_grant WHERE id = ?", arguments: [id]).map(Self.grant)
            }
        }
        let request = AccessRequest(action: .revoke, dataClass: .administration, tenant: existing?.tenant,
                                    subject: existing?.subject, objectID: existing?.grantee, grantID: id)
        try await authorize(context, request)
        try await performing(context, request) {
            guard let existing else { throw CofferError(.notFound, "no grant \(id)") }
            guard existing.revokedAt == nil else { throw CofferError(.invalidArgument, "grant \(id) is already revoked") }
            try await VaultDatabase.guarded {
                try await control.write { db in
                    try db.execute(sql: "UPDATE access_grant SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                                   arguments: [clock.now(), context.actor, id])
                }
            }
        }
    }

    /// Grants, newest first, optionally only those of one grantee or tenant.
    /// - Throws: ``CofferError`` `invalidArgument` for a malformed grantee or tenant filter
    ///   (unrecorded), `accessDenied`.
    public func grants(grantee: String? = nil, tenant: String? = nil, context: AccessContext) async throws -> [Grant] {
        if let grantee { try IdentifierRules.validatePrincipal(grantee, as: "grantee") }
        if let tenant { try Self.validateTenantID(tenant) }
        try await authorize(context, AccessRequest(action: .list, dataClass: .administration, tenant: tenant))
        return try await VaultDatabase.guarded {
            try await control.readReleasingEarly { db in
                try Row.fetchAll(db, sql: """
                    SELECT * FROM access_grant WHERE (?1 IS NULL OR grantee = ?1) AND (?2 IS NULL OR tenant = ?2)
                    ORDER BY issued_at DESC, id
                    """, arguments: [grantee, tenant]).map(Self.grant)
            }
        }
    }

    /// The grant in force that lets `grantee` access `subject` of `tenant` for `purpose`, if any.
    func activeGrant(grantee: String, tenant: String, subject: String?, purpose: Purpose) throws -> Grant? {
        let now = clock.now()
        return try VaultDatabase.guardedSync {
            try control.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT * FROM access_grant WHERE grantee = ? AND tenant = ? AND revoked_at IS NULL AND expires_at > ?
                    ORDER BY expires_at DESC
                    """, arguments: [grantee, tenant, now]).map(Self.grant)
            }
        }.first { $0.covers(tenant: tenant, subject: subject, purpose: purpose) }
    }

    /// A grant from its row.
    /// - Throws: ``CofferError`` `tamperDetected` for a NULL or malformed column or an unknown
    ///   purpose (a grant is never widened to a purpose it was not issued for).
    static func grant(_ row: Row) throws -> Grant {
        let t = "access_grant"
        guard let purpose = try? Purpose(parsing: row.stored("purpose", in: t)) else {
            throw CofferError(.tamperDetected, "an access_grant row has an unknown purpose: the vault file was changed outside Coffer")
        }
        return Grant(id: try row.stored("id", in: t), grantee: try row.stored("grantee", in: t), tenant: try row.stored("tenant", in: t),
                     subject: try row.storedIfPresent("subject", in: t), purpose: purpose, reason: try row.stored("reason", in: t),
                     issuedBy: try row.stored("issued_by", in: t), issuedAt: try row.stored("issued_at", in: t),
                     expiresAt: try row.stored("expires_at", in: t), revokedAt: try row.storedIfPresent("revoked_at", in: t),
                     revokedBy: try row.storedIfPresent("revoked_by", in: t))
    }
}
