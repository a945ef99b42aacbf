import CofferCrypto
import Foundation

extension Vault {
    /// A write (or `action`) on subject `id` through the access gate; the body gets the subject's
    /// tenant. An unknown subject is recorded as an error and thrown as `not-found`.
    private func guardedSubject<T>(_ id: SubjectID, _ action: AccessAction = .write, context: AccessContext,
                                   check: (inout PendingAccess) -> Void = { _ in },
                                   _ body: (_ tenant: TenantID) async throws -> T) async throws -> T {
        try await guardedPII(context, action, subject: id, check: check) { state in
            guard let state else { throw CofferError(.notFound, "no subject \(id)") }
            return try await body(state.tenant)
        }
    }

    /// Corrects a field (P15): the subject moves to a fresh key with the new value (every field
    /// sealed anew, the old key destroyed), so the old value cannot be opened from a copy of the
    /// PII file taken before; `secure_delete` and a WAL checkpoint clear it from the live files.
    public func correctSubject(_ id: SubjectID, field: SubjectField, value: String, context: AccessContext) async throws {
        guard SubjectField.correctable.contains(field) else {
            throw CofferError(.invalidArgument, "\(field.rawValue) cannot be corrected this way; correctable: \(SubjectField.correctable.map(\.rawValue).joined(separator: ", "))")
        }
        let normalised: String
        switch field {
        case .email: normalised = try PIIValidation.email(value)
        default: normalised = try PIIValidation.text(value, field: field.rawValue)
        }
        try await guardedSubject(id, context: context) { tenant in
            try await people.replaceFields(id, tenant: tenant, [(field, normalised)])
        }
    }

    /// Stores billing details: the card's last 4 digits (never more, P12) and the billing address.
    public func setBilling(_ id: SubjectID, last4: String, address: String, context: AccessContext) async throws {
        try PIIValidation.refuseCardNumbers(last4, field: "last4")
        let digits = try PIIValidation.last4(last4)
        let address = try PIIValidation.text(address, field: "billing address", maximum: 1024)
        try await guardedSubject(id, context: context) { tenant in
            try await people.replaceFields(id, tenant: tenant, [(.billingLast4, digits), (.billingAddress, address)])
        }
    }

    /// Records a consent given or withdrawn (P19). Takes effect at once: the newest event per kind
    /// is the subject's current choice.
    public func recordConsent(_ id: SubjectID, kind: String, granted: Bool, policyVersion: String, context: AccessContext) async throws {
        let kind = try PIIValidation.text(kind, field: "consent kind", maximum: 64).lowercased()
        guard kind.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw CofferError(.invalidPII, "consent kind must be letters, digits and '-', such as marketing")
        }
        let version = try PIIValidation.text(policyVersion, field: "policy version", maximum: 64)
        try await guardedSubject(id, context: context) { tenant in
            try await people.recordConsent(id, tenant: tenant, kind: kind, granted: granted, policyVersion: version)
        }
    }

    /// Records a technical identifier seen for the subject (IP address, user agent, device). The IP
    /// goes into the blind index for security investigations.
    /// - Returns: The identifier's id.
    public func addIdentifier(_ id: SubjectID, ip: String?, userAgent: String?, device: String?, context: AccessContext) async throws -> String {
        guard ip != nil || userAgent != nil || device != nil else {
            throw CofferError(.invalidArgument, "give at least one of ip, user agent or device")
        }
        let address = try ip.map(PIIValidation.ipAddress)
        let agent = try userAgent.map { try PIIValidation.text($0, field: "user agent", maximum: 1024) }
        let deviceName = try device.map { try PIIValidation.text($0, field: "device", maximum: 256) }
        return try await guardedSubject(id, context: context) { tenant in
            try await people.addIdentifier(id, tenant: tenant, ip: address, userAgent: agent, device: deviceName)
        }
    }

    /// Restricts processing of a subject (P17), or lifts the restriction. Privacy officers only.
    public func restrictSubject(_ id: SubjectID, lift: Bool = false, context: AccessContext) async throws {
        try await guardedSubject(id, context: context, check: { access in
            guard context.purpose == .subjectRequest || context.purpose == .legal else {
                access.refuse(CofferError(.accessDenied, "restriction is set and lifted for subject requests or legal reasons only"))
                return
            }
        }) { tenant in
            try await people.restrict(id, tenant: tenant, lift: lift)
        }
    }

    /// Sets a new password after the policy check.
    public func setPassword(_ id: SubjectID, password: String, context: AccessContext) async throws {
        try PIIValidation.refuseCardNumbers(password, field: "password")
        let settings = piiSettings
        try settings.passwordPolicy.check(password)
        try await guardedSubject(id, context: context) { tenant in
            try await people.setPassword(id, tenant: tenant, password: password, parameters: settings.passwordHashing)
        }
    }

    /// Checks a password. On success with a hash made under weaker parameters than today's, the
    /// hash is remade with today's.
    /// - Returns: Whether the password matches.
    public func verifyPassword(_ id: SubjectID, password: String, context: AccessContext) async throws -> Bool {
        try await guardedSubject(id, .authenticate, context: context) { tenant in
            try await people.verifyPassword(id, tenant: tenant, password: password)
        }
    }
}
