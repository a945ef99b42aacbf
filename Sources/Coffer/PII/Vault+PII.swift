import Foundation
import GRDB

extension Vault {
    /// The PII settings in force.
    public var piiSettings: PIISettings { piiSettingsBox.withLock { $0 } }

    /// Replaces the PII settings (password policy, breached list, hashing parameters).
    public func configurePII(_ settings: PIISettings) {
        piiSettingsBox.withLock { $0 = settings }
    }

    static func fieldAAD(subject: String, field: String) -> [UInt8] {
        Array("coffer/pii/v1\u{0}\(subject)\u{0}\(field)".utf8)
    }

    func seal(_ value: String, subject: String, field: String, key: SecureBytes) throws -> Data {
        Data(try AESGCM.seal(Array(value.utf8), key: key, aad: Self.fieldAAD(subject: subject, field: field)))
    }

    func open(_ sealed: Data, subject: String, field: String, key: SecureBytes) throws -> String {
        do {
            return String(decoding: try AESGCM.open([UInt8](sealed), key: key, aad: Self.fieldAAD(subject: subject, field: field)), as: UTF8.self)
        } catch {
            throw CofferError(.tamperDetected, "subject \(subject): stored \(field) failed authentication; the PII file was changed outside Coffer")
        }
    }

    /// The blind-index MAC of a value: HMAC-SHA256 under a per-kind key derived from the keyring's
    /// blind-index key, over the normalised value. The value is never stored; the same email or
    /// address gives the same MAC in every tenant, so an investigation can search across tenants.
    func lookupMAC(kind: String, tenant: String, value: String) throws -> Data {
        let (_, root) = try keyring.requiredSecret(for: .blindIndex)
        let key = try HKDF.deriveKey(from: root, salt: [UInt8](), info: Array("coffer/v1/lookup/\(kind)".utf8), length: 32)
        return Data(try HMACSHA256.authenticate(Array(value.utf8), key: key))
    }

    /// Tenant and status of a subject, or nil.
    func subjectState(_ subject: String) throws -> (tenant: String, status: SubjectStatus)? {
        try checkNotClosed()
        return try VaultDatabase.guardedSync {
            try pii.read { db in try Row.fetchOne(db, sql: "SELECT tenant_id, status FROM subject WHERE id = ?", arguments: [subject]) }
        }.map { row in
            // An unknown status is never taken for `active`: that would lift a restriction.
            guard let status = SubjectStatus(rawValue: try row.stored("status", in: "subject")) else {
                throw CofferError(.tamperDetected, "a subject row has an unknown status: the PII file was changed outside Coffer")
            }
            return (try row.stored("tenant_id", in: "subject"), status)
        }
    }

    /// A PII access through the access gate (``guarded(_:_:resolve:refine:_:)``): the subject's
    /// tenant and status are resolved first (an unknown subject is recorded as an error), then
    /// policy decides, a grant stands in where policy alone refuses a read or a find, and the
    /// subject's restriction is applied; a justification is required throughout.
    /// - Parameters:
    ///   - check: The operation's own refusals, after all the above; its reason replaces a
    ///     refusal by policy.
    ///   - body: Performs the access, given the subject's state (nil without a subject).
    func guardedPII<T>(_ context: AccessContext, _ action: AccessAction, subject: String? = nil, tenant: String? = nil,
                       check: (inout PendingAccess) -> Void = { _ in },
                       _ body: ((tenant: String, status: SubjectStatus)?) async throws -> T) async throws -> T {
        // A malformed id is refused before policy: nothing is recorded for it.
        if let tenant { try Self.validateTenantID(tenant) }
        if let subject { try IdentifierRules.validateReference(subject, as: "subject id") }
        var state: (tenant: String, status: SubjectStatus)?
        let request = AccessRequest(action: action, dataClass: .pii, tenant: tenant, subject: subject)
        return try await guarded(context, request, resolve: { request in
            guard let subject else { return }
            guard let found = try await BlockingPool.shared.run({ try self.subjectState(subject) }) else {
                throw CofferError(.notFound, "no subject \(subject)")
            }
            state = found
            request.tenant = found.tenant
        }, refine: { access in
            try await refinePII(&access, context, status: state?.status)
            // The operation's own rule (a purpose only it allows) is the reason given, whatever
            // policy said.
            check(&access)
        }) { _ in try await body(state) }
    }

    /// The PII rules on top of policy: a grant where policy alone refuses a read or a find, then
    /// the subject's restriction and erasure.
    private func refinePII(_ access: inout PendingAccess, _ context: AccessContext, status: SubjectStatus?) async throws {
        let request = access.request
        if case .failure(let refusal) = access.decision, refusal.code == .accessDenied, context.justification != nil,
           [.read, .find].contains(request.action), let tenant = request.tenant {
            let found = try await BlockingPool.shared.run { () throws -> (Principal, Grant)? in
                guard let principal = try self.principal(id: context.actor),
                      let grant = try self.activeGrant(grantee: context.actor, tenant: tenant, subject: request.subject, purpose: context.purpose)
                else { return nil }
                return (principal, grant)
            }
            if let (principal, grant) = found {
                access.request.grantID = grant.id
                access.decision = .success(principal.roles.first ?? .support)
            }
        }
        let subject = request.subject ?? ""
        if access.isAllowed, status == .restricted, context.purpose != .legal, context.purpose != .subjectRequest {
            access.refuse(CofferError(.accessDenied, "processing of subject \(subject) is restricted: only legal or subject-request purposes may touch it"))
        }
        if access.isAllowed, status == .erased {
            access.refuse(CofferError(.notFound, "subject \(subject) was erased"))
        }
    }

    /// Runs scrypt (hashing or checking a password) on the blocking pool, at most
    /// ``scryptLimiter``'s limit at once.
    func scrypt<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await scryptLimiter.run { try await BlockingPool.shared.run(body) }
    }

    // MARK: - Adding and reading

    /// Registers a person: account fields sealed under a new per-subject key, email in the blind
    /// index, optional password hashed with scrypt after the password policy.
    /// - Returns: The subject id (`subj_` and 32 hex digits).
    /// - Throws: ``CofferError`` `invalidPII`, `cardNumberRefused`, `passwordPolicy`, `unknownTenant`,
    ///   `accessDenied`, `purposeMissing`.
    public func addSubject(tenant: String, name: String, email: String, company: String?, password: String? = nil,
                           context: AccessContext) async throws -> String {
        try Self.validateTenantID(tenant)
        let name = try PIIValidation.text(name, field: "name")
        let email = try PIIValidation.email(email)
        let company = try company.map { try PIIValidation.text($0, field: "company") }
        let settings = piiSettings
        var hash: String?
        if let password {
            try PIIValidation.refuseCardNumbers(password, field: "password")
            try settings.passwordPolicy.check(password)
        }
        return try await guardedPII(context, .write, tenant: tenant) { _ in
            try requireTenant(tenant)
            if let password {
                let parameters = settings.passwordHashing
                hash = try await scrypt { try PasswordHash.make(password, parameters: parameters) }
            }
            let id = try makeIdentifier("subj")
            let emailMAC = try lookupMAC(kind: "email", tenant: tenant, value: PIIValidation.emailKey(email))
            let now = nowMilliseconds()
            let keys = self.keys
            try await BlockingPool.shared.run { try keys.createSubjectKey(subject: id, tenant: tenant, now: now) }
            let fieldKey = try subjectKey(id, tenant: tenant)
            var fields: [(SubjectField, String)] = [(.name, name), (.email, email)]
            if let company { fields.append((.company, company)) }
            if let hash { fields.append((.passwordHash, hash)) }
            let sealed = try fields.map { ($0.0.rawValue, try seal($0.1, subject: id, field: $0.0.rawValue, key: fieldKey)) }
            do {
                try await VaultDatabase.guarded {
                    try await pii.write { db in
                        try db.execute(sql: "INSERT INTO subject (id, tenant_id, status, created_at, updated_at) VALUES (?, ?, 'active', ?, ?)",
                                       arguments: [id, tenant, now, now])
                        for (field, value) in sealed {
                            try db.execute(sql: "INSERT INTO field (subject_id, name, value, updated_at) VALUES (?, ?, ?, ?)",
                                           arguments: [id, field, value, now])
                        }
                        try db.execute(sql: "INSERT INTO lookup (kind, mac, subject_id) VALUES ('email', ?, ?)", arguments: [emailMAC, id])
                    }
                }
            } catch {
                // No key without its subject: undo the key row if the PII file refused the subject.
                try? keys.destroySubjectKey(subject: id, tenant: tenant)
                throw error
            }
            return id
        }
    }

    /// What the vault holds about a subject. Needs a grant covering the subject and purpose, or a
    /// privacy officer's subject request; always a justification.
    /// - Parameter fields: Only these fields (nil for all).
    public func subject(_ id: String, fields: Set<SubjectField>? = nil, context: AccessContext) async throws -> SubjectRecord {
        try await guardedPII(context, .read, subject: id) { state in
            guard let state else { throw CofferError(.notFound, "no subject \(id)") }
            return try await BlockingPool.shared.run { try self.readSubject(id, tenant: state.tenant, status: state.status, fields: fields) }
        }
    }

    func readSubject(_ id: String, tenant: String, status: SubjectStatus, fields: Set<SubjectField>?) throws -> SubjectRecord {
        let key = try subjectKey(id, tenant: tenant)
        return try VaultDatabase.guardedSync {
            try pii.read { db in
                guard let subject = try Row.fetchOne(db, sql: "SELECT created_at, updated_at FROM subject WHERE id = ?", arguments: [id]) else {
                    throw CofferError(.notFound, "no subject \(id)")
                }
                var values: [SubjectField: String] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT name, value FROM field WHERE subject_id = ?", arguments: [id]) {
                    guard let field = SubjectField(rawValue: try row.stored("name", in: "field")), fields?.contains(field) ?? true else { continue }
                    values[field] = try open(row.stored("value", in: "field"), subject: id, field: field.rawValue, key: key)
                }
                let wantsConsents = fields == nil, wantsIdentifiers = fields == nil
                let consents = wantsConsents ? try Row.fetchAll(db, sql: "SELECT seq, value FROM consent WHERE subject_id = ? ORDER BY seq", arguments: [id]).map { row -> Consent in
                    try JSONDecoder().decode(Consent.self, from: Data(try open(row.stored("value", in: "consent"), subject: id, field: "consent-\(try row.stored("seq", in: "consent", as: Int64.self))", key: key).utf8))
                } : []
                let identifiers = wantsIdentifiers ? try Row.fetchAll(db, sql: "SELECT id, value, first_seen, last_seen FROM identifier WHERE subject_id = ? ORDER BY first_seen", arguments: [id]).map { row -> TechnicalIdentifier in
                    let parts = try JSONDecoder().decode([String: String].self,
                                                         from: Data(try open(row.stored("value", in: "identifier"), subject: id,
                                                                             field: "identifier-\(try row.stored("id", in: "identifier", as: String.self))", key: key).utf8))
                    return TechnicalIdentifier(id: try row.stored("id", in: "identifier"), ip: parts["ip"], userAgent: parts["userAgent"],
                                               device: parts["device"], firstSeen: try row.stored("first_seen", in: "identifier"),
                                               lastSeen: try row.stored("last_seen", in: "identifier"))
                } : []
                return SubjectRecord(id: id, tenant: tenant, status: status, name: values[.name], email: values[.email],
                                     company: values[.company], billingLast4: values[.billingLast4], billingAddress: values[.billingAddress],
                                     hasPassword: try Bool.fetchOne(db, sql: "SELECT 1 FROM field WHERE subject_id = ? AND name = 'password-hash'", arguments: [id]) == true,
                                     consents: consents, identifiers: identifiers, createdAt: try subject.stored("created_at", in: "subject"),
                                     updatedAt: try subject.stored("updated_at", in: "subject"))
            }
        }
    }

    /// Subjects with this email (in `tenant`, or in every tenant), through the blind index: no
    /// plaintext email is stored anywhere.
    public func findSubjects(tenant: String? = nil, email: String, context: AccessContext) async throws -> [String] {
        let normalised = try PIIValidation.emailKey(PIIValidation.email(email))
        return try await find(tenant: tenant, kind: "email", value: normalised, context: context)
    }

    /// Subjects seen at this IP address (in `tenant`, or in every tenant). Only for security
    /// investigations (purpose security-investigation).
    public func findSubjects(tenant: String? = nil, ip: String, context: AccessContext) async throws -> [String] {
        let address = try PIIValidation.ipAddress(ip)
        return try await find(tenant: tenant, kind: "ip", value: address, context: context) { access in
            guard context.purpose == .securityInvestigation else {
                access.refuse(CofferError(.accessDenied, "finding people by IP address is for security investigations only (purpose security-investigation)"))
                return
            }
        }
    }

    private func find(tenant: String?, kind: String, value: String, context: AccessContext,
                      check: (inout PendingAccess) -> Void = { _ in }) async throws -> [String] {
        try await guardedPII(context, .find, tenant: tenant, check: check) { _ in
            try await findAllowed(tenant: tenant, kind: kind, value: value, context: context)
        }
    }

    private func findAllowed(tenant: String?, kind: String, value: String, context: AccessContext) async throws -> [String] {
        let mac = try lookupMAC(kind: kind, tenant: tenant ?? "", value: value)
        // A tenant-scoped principal finds only in its tenants; restricted subjects are found only
        // for legal or subject-request purposes.
        let scope = try principal(id: context.actor)?.tenants
        let includeRestricted = context.purpose == .legal || context.purpose == .subjectRequest
        let rows = try await VaultDatabase.guarded {
            try await pii.readReleasingEarly { db in
                try Row.fetchAll(db, sql: """
                    SELECT DISTINCT l.subject_id, s.tenant_id, s.status FROM lookup l JOIN subject s ON s.id = l.subject_id
                    WHERE l.kind = ? AND l.mac = ? AND (?3 IS NULL OR s.tenant_id = ?3) AND s.status != 'erased' ORDER BY l.subject_id
                    """, arguments: [kind, mac, tenant]).map { row -> (String, String, String) in
                        (try row.stored(at: 0, in: "lookup"), try row.stored(at: 1, in: "subject"), try row.stored(at: 2, in: "subject"))
                    }
            }
        }
        return rows.filter { row in
            (scope?.contains(row.1) ?? true) && (includeRestricted || row.2 != SubjectStatus.restricted.rawValue)
        }.map(\.0)
    }
}
