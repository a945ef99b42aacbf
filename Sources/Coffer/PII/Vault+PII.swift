import CofferCrypto
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

    /// Decides and records a PII access: policy, then a grant if policy alone refuses, then the
    /// subject's restriction; justification required throughout. Returns the grant used, if any.
    @discardableResult
    func authorizePII(_ context: AccessContext, action: AccessAction, tenant: String?, subject: String?,
                      status: SubjectStatus?) async throws -> String? {
        // A malformed id is refused before policy: nothing is recorded for it.
        if let tenant { try Self.validateTenantID(tenant) }
        if let subject { try IdentifierRules.validateReference(subject, as: "subject id") }
        var request = AccessRequest(action: action, dataClass: .pii, tenant: tenant, subject: subject)
        var decision = try decide(context, request)
        if case .failure(let refusal) = decision, refusal.code == .accessDenied, context.justification != nil,
           [.read, .find].contains(action), let principal = try principal(id: context.actor),
           let tenant, let grant = try activeGrant(grantee: context.actor, tenant: tenant, subject: subject, purpose: context.purpose) {
            request.grantID = grant.id
            decision = .success(principal.roles.first ?? .support)
        }
        if case .success = decision, status == .restricted, context.purpose != .legal, context.purpose != .subjectRequest {
            decision = .failure(CofferError(.accessDenied, "processing of subject \(subject ?? "") is restricted: only legal or subject-request purposes may touch it"))
        }
        if case .success = decision, status == .erased {
            decision = .failure(CofferError(.notFound, "subject \(subject ?? "") was erased"))
        }
        try await record(context, request, decision: decision)
        return request.grantID
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
        try await authorizePII(context, action: .write, tenant: tenant, subject: nil, status: nil)
        let request = AccessRequest(action: .write, dataClass: .pii, tenant: tenant)
        return try await performing(context, request) {
            _ = try classKeys(tenant: tenant, kind: .config)  // unknown tenants fail here
            if let password { hash = try PasswordHash.make(password, parameters: settings.passwordHashing) }
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
        try IdentifierRules.validateReference(id, as: "subject id")
        guard let state = try subjectState(id) else {
            await recordFailure(context, AccessRequest(action: .read, dataClass: .pii, subject: id), CofferError(.notFound, ""))
            throw CofferError(.notFound, "no subject \(id)")
        }
        try await authorizePII(context, action: .read, tenant: state.tenant, subject: id, status: state.status)
        return try await performing(context, AccessRequest(action: .read, dataClass: .pii, tenant: state.tenant, subject: id)) {
            try readSubject(id, tenant: state.tenant, status: state.status, fields: fields)
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
        guard context.purpose == .securityInvestigation else {
            let refusal = CofferError(.accessDenied, "finding people by IP address is for security investigations only (purpose security-investigation)")
            try await record(context, AccessRequest(action: .find, dataClass: .pii, tenant: tenant), decision: .failure(refusal))
            throw refusal
        }
        return try await find(tenant: tenant, kind: "ip", value: address, context: context)
    }

    private func find(tenant: String?, kind: String, value: String, context: AccessContext) async throws -> [String] {
        if let tenant { try Self.validateTenantID(tenant) }
        try await authorizePII(context, action: .find, tenant: tenant, subject: nil, status: nil)
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
