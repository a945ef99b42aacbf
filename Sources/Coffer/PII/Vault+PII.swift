import CofferCrypto
import Foundation
import GRDB

extension Vault {
    /// The PII settings in force.
    public var piiSettings: PIISettings { piiSettingsBox.withLock { $0 } }

    /// Replaces the PII settings (password policy, breached list, hashing parameters).
    /// - Parameter settings: The new settings, in force for every later call.
    public func configurePII(_ settings: PIISettings) {
        piiSettingsBox.withLock { $0 = settings }
    }

    static func fieldAAD(subject: SubjectID, field: String) -> [UInt8] {
        Array("coffer/pii/v1\u{0}\(subject)\u{0}\(field)".utf8)
    }

    func seal(_ value: String, subject: SubjectID, field: String, key: SecureBytes) throws -> Data {
        Data(try AESGCM.seal(Array(value.utf8), key: key, aad: Self.fieldAAD(subject: subject, field: field)))
    }

    func open(_ sealed: Data, subject: SubjectID, field: String, key: SecureBytes) throws -> String {
        do {
            return String(decoding: try AESGCM.open([UInt8](sealed), key: key, aad: Self.fieldAAD(subject: subject, field: field)), as: UTF8.self)
        } catch {
            throw CofferError(.tamperDetected, "subject \(subject): stored \(field) failed authentication; the PII file was changed outside Coffer")
        }
    }

    /// The blind-index MAC of a value: HMAC-SHA256 under a per-kind key derived from the keyring's
    /// blind-index key, over the normalised value. The value is never stored; the same email or
    /// address gives the same MAC in every tenant, so an investigation can search across tenants.
    func lookupMAC(kind: String, value: String) throws -> Data {
        let (_, root) = try keyring.requiredSecret(for: .blindIndex)
        let key = try HKDF.deriveKey(from: root, salt: [UInt8](), info: Array("coffer/v1/lookup/\(kind)".utf8), length: 32)
        return Data(try HMACSHA256.authenticate(Array(value.utf8), key: key))
    }

    /// Tenant and status of a subject, or nil.
    func subjectState(_ subject: SubjectID) throws -> (tenant: TenantID, status: SubjectStatus)? {
        try accessLog.checkOpen()
        return try people.state(of: subject)
    }

    /// A PII access through the access gate (``guarded(_:_:resolve:refine:_:)``): the subject's
    /// tenant and status are resolved first (an unknown subject is recorded as an error), then
    /// policy decides, a grant stands in where policy alone refuses a read or a find, and the
    /// subject's restriction is applied; a justification is required throughout.
    /// - Parameters:
    ///   - check: The operation's own refusals, after all the above; its reason replaces a
    ///     refusal by policy.
    ///   - body: Performs the access, given the subject's state (nil without a subject).
    func guardedPII<T>(_ context: AccessContext, _ action: AccessAction, subject: SubjectID? = nil, tenant: TenantID? = nil,
                       check: (inout PendingAccess) -> Void = { _ in },
                       _ body: ((tenant: TenantID, status: SubjectStatus)?) async throws -> T) async throws -> T {
        // A malformed id is refused before policy: nothing is recorded for it.
        if let tenant { try tenant.validate() }
        if let subject { try IdentifierRules.validateReference(subject.rawValue, as: "subject id") }
        var state: (tenant: TenantID, status: SubjectStatus)?
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
                guard let principal = try self.administration.principal(id: context.actor),
                      let grant = try self.administration.activeGrant(grantee: context.actor, tenant: tenant, subject: request.subject, purpose: context.purpose)
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
    /// - Parameters:
    ///   - tenant: The tenant the person belongs to.
    ///   - name: Their name.
    ///   - email: Their email address (validated; found later through the blind index).
    ///   - company: Their company, if any.
    ///   - password: A password to hash (checked against the password policy first).
    ///   - context: Who registers them and why (a justification is required).
    /// - Returns: The subject id (`subj_` and 32 hex digits).
    /// - Throws: `CofferError` `invalidPII`, `cardNumberRefused`, `passwordPolicy`, `unknownTenant`,
    ///   `accessDenied`, `purposeMissing`.
    public func addSubject(tenant: TenantID, name: String, email: String, company: String?, password: String? = nil,
                           context: AccessContext) async throws -> SubjectID {
        try tenant.validate()
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
            try administration.requireTenant(tenant)
            if let password {
                let parameters = settings.passwordHashing
                hash = try await scrypt { try PasswordHash.make(password, parameters: parameters) }
            }
            let id = SubjectID(try makeIdentifier("subj"))
            let emailMAC = try lookupMAC(kind: "email", value: PIIValidation.emailKey(email))
            let now = nowMilliseconds()
            let keys = self.keys
            try await BlockingPool.shared.run { try keys.createSubjectKey(subject: id.rawValue, tenant: tenant.rawValue, now: now) }
            let fieldKey = try subjectKey(id, tenant: tenant)
            var fields: [(SubjectField, String)] = [(.name, name), (.email, email)]
            if let company { fields.append((.company, company)) }
            if let hash { fields.append((.passwordHash, hash)) }
            let sealed = try fields.map { (name: $0.0.rawValue, value: try seal($0.1, subject: id, field: $0.0.rawValue, key: fieldKey)) }
            do {
                try await people.insertSubject(id, tenant: tenant, fields: sealed, emailMAC: emailMAC, at: now)
            } catch {
                // No key without its subject: undo the key row if the PII file refused the subject.
                try? keys.destroySubjectKey(subject: id.rawValue, tenant: tenant.rawValue)
                throw error
            }
            return id
        }
    }

    /// What the vault holds about a subject. Needs a grant covering the subject and purpose, or a
    /// privacy officer's subject request; always a justification.
    /// - Parameters:
    ///   - id: The subject id.
    ///   - fields: Only these fields (nil for all, with consents and identifiers).
    ///   - context: Who reads and why (a justification is required).
    /// - Returns: The subject's record.
    /// - Throws: `CofferError` `notFound`, `accessDenied`, `purposeMissing`, `tamperDetected`.
    public func subject(_ id: SubjectID, fields: Set<SubjectField>? = nil, context: AccessContext) async throws -> SubjectRecord {
        try await guardedPII(context, .read, subject: id) { state in
            guard let state else { throw CofferError(.notFound, "no subject \(id)") }
            return try await BlockingPool.shared.run { try self.readSubject(id, tenant: state.tenant, status: state.status, fields: fields) }
        }
    }

    func readSubject(_ id: SubjectID, tenant: TenantID, status: SubjectStatus, fields: Set<SubjectField>?) throws -> SubjectRecord {
        let key = try subjectKey(id, tenant: tenant)
        let everything = fields == nil
        guard let stored = try people.sealedSubject(id, withHistory: everything) else { throw CofferError(.notFound, "no subject \(id)") }
        var values: [SubjectField: String] = [:]
        for (name, sealed) in stored.fields {
            guard let field = SubjectField(rawValue: name), fields?.contains(field) ?? true else { continue }
            values[field] = try open(sealed, subject: id, field: field.rawValue, key: key)
        }
        let consents = try stored.consents.map { consent in
            try JSONDecoder().decode(Consent.self, from: Data(try open(consent.value, subject: id, field: "consent-\(consent.seq)", key: key).utf8))
        }
        let identifiers = try stored.identifiers.map { identifier -> TechnicalIdentifier in
            let parts = try JSONDecoder().decode([String: String].self,
                                                 from: Data(try open(identifier.value, subject: id, field: "identifier-\(identifier.id)", key: key).utf8))
            return TechnicalIdentifier(id: identifier.id, ip: parts["ip"], userAgent: parts["userAgent"], device: parts["device"],
                                       firstSeen: identifier.firstSeen, lastSeen: identifier.lastSeen)
        }
        return SubjectRecord(id: id, tenant: tenant, status: status, name: values[.name], email: values[.email],
                             company: values[.company], billingLast4: values[.billingLast4], billingAddress: values[.billingAddress],
                             hasPassword: stored.fields[SubjectField.passwordHash.rawValue] != nil,
                             consents: consents, identifiers: identifiers, createdAt: stored.createdAt, updatedAt: stored.updatedAt)
    }

    /// Subjects with this email (in `tenant`, or in every tenant), through the blind index: no
    /// plaintext email is stored anywhere.
    /// - Parameters:
    ///   - tenant: One tenant, or nil for every tenant the caller may see.
    ///   - email: The address to look for.
    ///   - context: Who searches and why (a justification is required).
    /// - Returns: The matching subject ids.
    /// - Throws: `CofferError` `invalidPII`, `accessDenied`, `purposeMissing`.
    public func findSubjects(tenant: TenantID? = nil, email: String, context: AccessContext) async throws -> [SubjectID] {
        let normalised = try PIIValidation.emailKey(PIIValidation.email(email))
        return try await find(tenant: tenant, kind: "email", value: normalised, context: context)
    }

    /// Subjects seen at this IP address (in `tenant`, or in every tenant). Only for security
    /// investigations (purpose security-investigation).
    /// - Parameters:
    ///   - tenant: One tenant, or nil for every tenant the caller may see.
    ///   - ip: The address to look for.
    ///   - context: Who searches and why (purpose `security-investigation`, a justification).
    /// - Returns: The matching subject ids.
    /// - Throws: `CofferError` `invalidPII`, `accessDenied` (any other purpose), `purposeMissing`.
    public func findSubjects(tenant: TenantID? = nil, ip: String, context: AccessContext) async throws -> [SubjectID] {
        let address = try PIIValidation.ipAddress(ip)
        return try await find(tenant: tenant, kind: "ip", value: address, context: context) { access in
            guard context.purpose == .securityInvestigation else {
                access.refuse(CofferError(.accessDenied, "finding people by IP address is for security investigations only (purpose security-investigation)"))
                return
            }
        }
    }

    private func find(tenant: TenantID?, kind: String, value: String, context: AccessContext,
                      check: (inout PendingAccess) -> Void = { _ in }) async throws -> [SubjectID] {
        try await guardedPII(context, .find, tenant: tenant, check: check) { _ in
            try await findAllowed(tenant: tenant, kind: kind, value: value, context: context)
        }
    }

    private func findAllowed(tenant: TenantID?, kind: String, value: String, context: AccessContext) async throws -> [SubjectID] {
        let mac = try lookupMAC(kind: kind, value: value)
        // A tenant-scoped principal finds only in its tenants; restricted subjects are found only
        // for legal or subject-request purposes.
        let scope = try administration.principal(id: context.actor)?.tenants
        let includeRestricted = context.purpose == .legal || context.purpose == .subjectRequest
        let rows = try await people.find(kind: kind, mac: mac, tenant: tenant)
        return rows.filter { row in
            (scope?.contains(row.tenant) ?? true) && (includeRestricted || row.status != SubjectStatus.restricted.rawValue)
        }.map(\.subject)
    }
}
