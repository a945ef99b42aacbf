import CofferCrypto
import Foundation

extension Vault {
    /// The PII settings in force.
    public var piiSettings: PIISettings { people.settings }

    /// Replaces the PII settings (password policy, breached list, hashing parameters).
    /// - Parameter settings: The new settings, in force for every later call.
    public func configurePII(_ settings: PIISettings) {
        people.settings = settings
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
            guard let found = try await BlockingPool.shared.run({ () throws -> (tenant: TenantID, status: SubjectStatus)? in
                try self.accessLog.checkOpen()
                return try self.people.state(of: subject)
            }) else {
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
                guard let principal = try self.administration.principal(id: context.actor), principal.covers(tenant: tenant),
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
        // Retention purges apply to restricted subjects too: restriction limits processing, it
        // does not extend how long data is kept.
        if access.isAllowed, status == .restricted, request.action != .purge, context.purpose != .legal, context.purpose != .subjectRequest {
            access.refuse(CofferError(.accessDenied, "processing of subject \(subject) is restricted: only legal or subject-request purposes may touch it"))
        }
        // What is left to do to an erased subject: purging what a legal retention kept, and an
        // erasure done again (one a crash interrupted after the rows went, before the keys).
        if access.isAllowed, status == .erased, request.action != .purge, request.action != .erasure {
            access.refuse(CofferError(.notFound, "subject \(subject) was erased"))
        }
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
        if let password {
            try PIIValidation.refuseCardNumbers(password, field: "password")
            try settings.passwordPolicy.check(password)
        }
        // The new subject's id is in its creation's record, so a subject-access report shows it.
        let id = SubjectID(try makeIdentifier("subj"))
        return try await guardedPII(context, .write, tenant: tenant, check: { access in if access.isAllowed { access.request.subject = id } }) { _ in
            try administration.requireTenant(tenant)
            if try await BlockingPool.shared.run({ try self.lifecycle.tenant(tenant)?.erasedAt }) != nil {
                throw CofferError(.notFound, "tenant '\(tenant)' was erased")
            }
            return try await people.add(id, tenant: tenant, name: name, email: email, company: company, password: password,
                                        hashing: settings.passwordHashing)
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
            return try await BlockingPool.shared.run { try self.people.read(id, tenant: state.tenant, status: state.status, fields: fields) }
        }
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

    /// A blind-index search through the gate. A tenant-scoped principal finds only in its
    /// tenants; restricted subjects are found only for legal or subject-request purposes. The
    /// same address has a different MAC in every tenant, so the PII file alone does not link a
    /// person across tenants.
    private func find(tenant: TenantID?, kind: String, value: String, context: AccessContext,
                      check: (inout PendingAccess) -> Void = { _ in }) async throws -> [SubjectID] {
        try await guardedPII(context, .find, tenant: tenant, check: check) { _ in
            // Each tenant has its own index key: look in the named tenant, or in every tenant the
            // caller may see.
            let scope = try administration.principal(id: context.actor)?.tenants
            let tenants: [TenantID]
            if let tenant {
                tenants = scope.map { $0.contains(tenant) } ?? true ? [tenant] : []
            } else if let scope {
                tenants = scope
            } else {
                tenants = try await administration.allTenants()
            }
            let includeRestricted = context.purpose == .legal || context.purpose == .subjectRequest
            return try await people.find(kind: kind, value: value, tenants: tenants, includeRestricted: includeRestricted)
        }
    }
}
