import CofferCrypto

/// The access policy: which role may do what, on which data, for which purposes. Deny by default.
///
/// | role | may | purposes |
/// |---|---|---|
/// | service | read, write, delete, list, stat content of its tenants; create tenants, change their plan, close them, set their retention | service-operation, customer-request |
/// | support | list, stat (metadata) of its tenants; PII only with a grant | support, customer-request |
/// | privacy-officer | grants; subject requests on PII; read, export and erase content (a tenant's erasure); legal holds | subject-request, legal |
/// | auditor | the access log, proofs and reports; the usage report | audit |
/// | reporting | aggregate counts and sizes | service-operation, audit |
/// | admin | keys, principals, tenants and their lifecycle; retention runs; pruning the access log and raising its retention | administration, security-investigation |
enum Policy {
    struct Rule {
        let role: Role
        let actions: Set<AccessAction>
        let dataClass: DataClass
        let purposes: Set<Purpose>
    }

    static let rules: [Rule] = [
        Rule(role: .service, actions: [.read, .write, .delete, .list, .stat], dataClass: .content,
             purposes: [.serviceOperation, .customerRequest]),
        Rule(role: .service, actions: [.list, .stat], dataClass: .metadata, purposes: [.serviceOperation, .customerRequest]),
        Rule(role: .service, actions: [.tenantCreate], dataClass: .administration, purposes: [.serviceOperation, .administration]),
        // The platform closes accounts and changes plans as its customers do.
        Rule(role: .service, actions: [.lifecycle, .stat], dataClass: .administration, purposes: [.serviceOperation, .customerRequest]),
        Rule(role: .support, actions: [.list, .stat], dataClass: .metadata, purposes: [.support, .customerRequest]),
        Rule(role: .privacyOfficer, actions: [.grant, .revoke, .list, .stat], dataClass: .administration, purposes: [.subjectRequest, .legal, .administration]),
        Rule(role: .privacyOfficer, actions: [.hold], dataClass: .administration, purposes: [.legal]),
        Rule(role: .privacyOfficer, actions: [.read, .export, .list, .stat, .erasure], dataClass: .content, purposes: [.subjectRequest, .legal]),
        Rule(role: .privacyOfficer, actions: [.list, .stat], dataClass: .metadata, purposes: [.subjectRequest, .legal]),
        Rule(role: .privacyOfficer, actions: [.auditRead], dataClass: .auditLog, purposes: [.subjectRequest, .legal]),
        Rule(role: .auditor, actions: [.auditRead], dataClass: .auditLog, purposes: [.audit]),
        Rule(role: .auditor, actions: [.list, .stat], dataClass: .administration, purposes: [.audit]),
        Rule(role: .reporting, actions: [.report], dataClass: .aggregate, purposes: [.serviceOperation, .audit]),
        Rule(role: .auditor, actions: [.report], dataClass: .aggregate, purposes: [.audit]),
        Rule(role: .admin, actions: [.keyOperation, .principalAdmin, .tenantCreate, .list, .stat, .lifecycle], dataClass: .administration,
             purposes: [.administration, .securityInvestigation]),
        Rule(role: .admin, actions: [.purge, .configure], dataClass: .auditLog, purposes: [.administration]),
        // Retention runs remove what is due, content and personal data alike.
        Rule(role: .admin, actions: [.purge], dataClass: .content, purposes: [.administration]),
        Rule(role: .admin, actions: [.purge], dataClass: .pii, purposes: [.administration]),
        // Personal data. Reading values needs a privacy officer's subject request, or a grant
        // (checked in Vault+PII). The backend registers people, records consents and identifiers,
        // checks passwords and finds accounts by email.
        Rule(role: .service, actions: [.write, .authenticate, .find], dataClass: .pii,
             purposes: [.serviceOperation, .customerRequest]),
        Rule(role: .privacyOfficer, actions: [.read, .write, .find, .export, .erasure], dataClass: .pii,
             purposes: [.subjectRequest, .legal]),
        Rule(role: .admin, actions: [.find], dataClass: .pii, purposes: [.securityInvestigation]),
    ]

    /// Operations on the whole vault, which no tenant-limited principal may do whatever its
    /// roles: the keys, and pruning or configuring the access log. (Reading what describes the
    /// whole log, its sizes, roots and proofs, is marked on the request: `vaultWide`.)
    static func isVaultWide(_ action: AccessAction, _ dataClass: DataClass) -> Bool {
        action == .keyOperation || (dataClass == .auditLog && [.purge, .configure].contains(action))
    }

    /// The decision for `principal` doing `action` on `dataClass` of `tenant` for `purpose`.
    /// - Parameter vaultWide: True when the access concerns the whole vault whatever its action.
    /// - Returns: The role that allows it, or the reason it is refused.
    static func decide(principal: Principal?, action: AccessAction, dataClass: DataClass, tenant: TenantID?,
                       purpose: Purpose, vaultWide: Bool = false) -> Result<Role, CofferError> {
        guard let principal else {
            return .failure(CofferError(.accessDenied, "actor is not a registered principal; an admin adds it with `coffer principal add`"))
        }
        if let tenant, !principal.covers(tenant: tenant) {
            return .failure(CofferError(.accessDenied, "principal '\(principal.id)' may not act on tenant '\(tenant)'"))
        }
        if principal.tenants != nil, vaultWide || isVaultWide(action, dataClass) {
            let what = vaultWide ? "this \(action) on \(dataClass) covers every tenant" : "\(action) on \(dataClass) concerns the whole vault"
            return .failure(CofferError(.accessDenied, "\(what): only a principal without a tenant limit may do it"))
        }
        let candidates = rules.filter { principal.roles.contains($0.role) && $0.dataClass == dataClass && $0.actions.contains(action) }
        guard !candidates.isEmpty else {
            return .failure(CofferError(.accessDenied,
                                        "no role of '\(principal.id)' (\(principal.roles.map(\.code).joined(separator: ", "))) allows \(action) on \(dataClass)"))
        }
        guard let rule = candidates.first(where: { $0.purposes.contains(purpose) }) else {
            let allowed = Set(candidates.flatMap(\.purposes)).map(\.code).sorted().joined(separator: ", ")
            return .failure(CofferError(.accessDenied, "purpose \(purpose) does not allow \(action) on \(dataClass); allowed: \(allowed)"))
        }
        return .success(rule.role)
    }
}
