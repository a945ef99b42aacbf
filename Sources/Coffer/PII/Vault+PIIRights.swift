import CofferCrypto
import Foundation
import GRDB

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

    /// Replaces fields in one transaction, then checkpoints the WAL so the old ciphertext leaves
    /// it too (`secure_delete` has already zeroed it in the database file).
    private func replaceFields(_ id: SubjectID, tenant: TenantID, _ values: [(SubjectField, String)],
                               lookups: [(kind: String, value: String)] = []) async throws {
        let key = try subjectKey(id, tenant: tenant)
        let sealed = try values.map { (name: $0.0.rawValue, value: try seal($0.1, subject: id, field: $0.0.rawValue, key: key)) }
        let macs = try lookups.map { (kind: $0.kind, mac: try lookupMAC(kind: $0.kind, value: $0.value)) }
        try await people.replaceFields(id, fields: sealed, lookups: macs, at: nowMilliseconds())
        await janitor.truncate(.pii)
    }

    /// Corrects a field (P15): the new value replaces the old, which is left unrecoverable in the
    /// file (`secure_delete` and a WAL checkpoint).
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
            let lookups = field == .email ? [(kind: "email", value: PIIValidation.emailKey(normalised))] : []
            try await replaceFields(id, tenant: tenant, [(field, normalised)], lookups: lookups)
        }
    }

    /// Stores billing details: the card's last 4 digits (never more, P12) and the billing address.
    public func setBilling(_ id: SubjectID, last4: String, address: String, context: AccessContext) async throws {
        try PIIValidation.refuseCardNumbers(last4, field: "last4")
        let digits = try PIIValidation.last4(last4)
        let address = try PIIValidation.text(address, field: "billing address", maximum: 1024)
        try await guardedSubject(id, context: context) { tenant in
            try await replaceFields(id, tenant: tenant, [(.billingLast4, digits), (.billingAddress, address)])
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
            let key = try subjectKey(id, tenant: tenant)
            let consent = Consent(kind: kind, granted: granted, time: nowMilliseconds(), policyVersion: version)
            let json = String(decoding: try JSONEncoder().encode(consent), as: UTF8.self)
            let sealer: @Sendable (Int64) throws -> Data = { seq in try self.seal(json, subject: id, field: "consent-\(seq)", key: key) }
            try await people.appendConsent(id, at: consent.time, seal: sealer)
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
            let key = try subjectKey(id, tenant: tenant)
            let identifierID = try makeIdentifier("ident")
            var parts: [String: String] = [:]
            parts["ip"] = address
            parts["userAgent"] = agent
            parts["device"] = deviceName
            let json = String(decoding: try JSONEncoder().encode(parts), as: UTF8.self)
            let sealed = try seal(json, subject: id, field: "identifier-\(identifierID)", key: key)
            let mac = try address.map { try lookupMAC(kind: "ip", value: $0) }
            let now = nowMilliseconds()
            try await people.insertIdentifier(identifierID, subject: id, value: sealed, ipMAC: mac, at: now)
            return identifierID
        }
    }

    /// Restricts processing of a subject (P17), or lifts the restriction. Privacy officers only.
    public func restrictSubject(_ id: SubjectID, lift: Bool = false, context: AccessContext) async throws {
        try await guardedSubject(id, context: context, check: { access in
            guard context.purpose == .subjectRequest || context.purpose == .legal else {
                access.refuse(CofferError(.accessDenied, "restriction is set and lifted for subject requests or legal reasons only"))
                return
            }
        }) { _ in
            try await people.setStatus(id, lift ? .active : .restricted, at: nowMilliseconds())
        }
    }

    /// Sets a new password after the policy check.
    public func setPassword(_ id: SubjectID, password: String, context: AccessContext) async throws {
        try PIIValidation.refuseCardNumbers(password, field: "password")
        let settings = piiSettings
        try settings.passwordPolicy.check(password)
        try await guardedSubject(id, context: context) { tenant in
            let parameters = settings.passwordHashing
            let hash = try await scrypt { try PasswordHash.make(password, parameters: parameters) }
            try await replaceFields(id, tenant: tenant, [(.passwordHash, hash)])
        }
    }

    /// Checks a password. On success with a hash made under weaker parameters than today's, the
    /// hash is remade with today's.
    /// - Returns: Whether the password matches.
    public func verifyPassword(_ id: SubjectID, password: String, context: AccessContext) async throws -> Bool {
        try await guardedSubject(id, .authenticate, context: context) { tenant in
            let key = try subjectKey(id, tenant: tenant)
            guard let sealed = try await people.sealedField(id, name: SubjectField.passwordHash.rawValue) else { return false }
            let stored = try open(sealed, subject: id, field: SubjectField.passwordHash.rawValue, key: key)
            let (matches, parameters) = try await scrypt { try PasswordHash.verify(password, against: stored) }
            let current = piiSettings.passwordHashing
            if matches && parameters < current {
                let hash = try await scrypt { try PasswordHash.make(password, parameters: current) }
                try await replaceFields(id, tenant: tenant, [(.passwordHash, hash)])
            }
            return matches
        }
    }
}
