import CofferCrypto
import Foundation
import GRDB

extension Vault {
    /// Looks up a subject for a write, refusing unknown subjects with a recorded error.
    private func subjectForWrite(_ id: String, action: AccessAction = .write, context: AccessContext) async throws -> (tenant: String, status: SubjectStatus) {
        try IdentifierRules.validateReference(id, as: "subject id")
        guard let state = try subjectState(id) else {
            await recordFailure(context, AccessRequest(action: action, dataClass: .pii, subject: id), CofferError(.notFound, ""))
            throw CofferError(.notFound, "no subject \(id)")
        }
        try await authorizePII(context, action: action, tenant: state.tenant, subject: id, status: state.status)
        return state
    }

    /// Replaces fields in one transaction, then checkpoints the WAL so the old ciphertext leaves
    /// it too (`secure_delete` has already zeroed it in the database file).
    private func replaceFields(_ id: String, tenant: String, _ values: [(SubjectField, String)],
                               lookups: [(kind: String, value: String)] = []) async throws {
        let key = try subjectKey(id, tenant: tenant)
        let sealed = try values.map { ($0.0.rawValue, try seal($0.1, subject: id, field: $0.0.rawValue, key: key)) }
        let macs = try lookups.map { ($0.kind, try lookupMAC(kind: $0.kind, tenant: tenant, value: $0.value)) }
        let now = nowMilliseconds()
        try await VaultDatabase.guarded {
            try await pii.write { db in
                for (field, value) in sealed {
                    try db.execute(sql: "INSERT OR REPLACE INTO field (subject_id, name, value, updated_at) VALUES (?, ?, ?, ?)",
                                   arguments: [id, field, value, now])
                }
                for (kind, mac) in macs {
                    try db.execute(sql: "DELETE FROM lookup WHERE subject_id = ? AND kind = ?", arguments: [id, kind])
                    try db.execute(sql: "INSERT INTO lookup (kind, mac, subject_id) VALUES (?, ?, ?)", arguments: [kind, mac, id])
                }
                try db.execute(sql: "UPDATE subject SET updated_at = ? WHERE id = ?", arguments: [now, id])
            }
        }
        await janitor.truncate(.pii)
    }

    /// Corrects a field (P15): the new value replaces the old, which is left unrecoverable in the
    /// file (`secure_delete` and a WAL checkpoint).
    public func correctSubject(_ id: String, field: SubjectField, value: String, context: AccessContext) async throws {
        guard SubjectField.correctable.contains(field) else {
            throw CofferError(.invalidArgument, "\(field.rawValue) cannot be corrected this way; correctable: \(SubjectField.correctable.map(\.rawValue).joined(separator: ", "))")
        }
        let normalised: String
        switch field {
        case .email: normalised = try PIIValidation.email(value)
        default: normalised = try PIIValidation.text(value, field: field.rawValue)
        }
        let state = try await subjectForWrite(id, context: context)
        try await performing(context, AccessRequest(action: .write, dataClass: .pii, tenant: state.tenant, subject: id)) {
            let lookups = field == .email ? [(kind: "email", value: PIIValidation.emailKey(normalised))] : []
            try await replaceFields(id, tenant: state.tenant, [(field, normalised)], lookups: lookups)
        }
    }

    /// Stores billing details: the card's last 4 digits (never more, P12) and the billing address.
    public func setBilling(_ id: String, last4: String, address: String, context: AccessContext) async throws {
        try PIIValidation.refuseCardNumbers(last4, field: "last4")
        let digits = try PIIValidation.last4(last4)
        let address = try PIIValidation.text(address, field: "billing address", maximum: 1024)
        let state = try await subjectForWrite(id, context: context)
        try await performing(context, AccessRequest(action: .write, dataClass: .pii, tenant: state.tenant, subject: id)) {
            try await replaceFields(id, tenant: state.tenant, [(.billingLast4, digits), (.billingAddress, address)])
        }
    }

    /// Records a consent given or withdrawn (P19). Takes effect at once: the newest event per kind
    /// is the subject's current choice.
    public func recordConsent(_ id: String, kind: String, granted: Bool, policyVersion: String, context: AccessContext) async throws {
        let kind = try PIIValidation.text(kind, field: "consent kind", maximum: 64).lowercased()
        guard kind.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw CofferError(.invalidPII, "consent kind must be letters, digits and '-', such as marketing")
        }
        let version = try PIIValidation.text(policyVersion, field: "policy version", maximum: 64)
        let state = try await subjectForWrite(id, context: context)
        try await performing(context, AccessRequest(action: .write, dataClass: .pii, tenant: state.tenant, subject: id)) {
            let key = try subjectKey(id, tenant: state.tenant)
            let consent = Consent(kind: kind, granted: granted, time: nowMilliseconds(), policyVersion: version)
            let json = String(decoding: try JSONEncoder().encode(consent), as: UTF8.self)
            try await VaultDatabase.guarded {
                try await pii.write { db in
                    let seq = (try Int64.fetchOne(db, sql: "SELECT max(seq) FROM consent WHERE subject_id = ?", arguments: [id]) ?? 0) + 1
                    try db.execute(sql: "INSERT INTO consent (subject_id, seq, value) VALUES (?, ?, ?)",
                                   arguments: [id, seq, try seal(json, subject: id, field: "consent-\(seq)", key: key)])
                    try db.execute(sql: "UPDATE subject SET updated_at = ? WHERE id = ?", arguments: [consent.time, id])
                }
            }
        }
    }

    /// Records a technical identifier seen for the subject (IP address, user agent, device). The IP
    /// goes into the blind index for security investigations.
    /// - Returns: The identifier's id.
    public func addIdentifier(_ id: String, ip: String?, userAgent: String?, device: String?, context: AccessContext) async throws -> String {
        guard ip != nil || userAgent != nil || device != nil else {
            throw CofferError(.invalidArgument, "give at least one of ip, user agent or device")
        }
        let address = try ip.map(PIIValidation.ipAddress)
        let agent = try userAgent.map { try PIIValidation.text($0, field: "user agent", maximum: 1024) }
        let deviceName = try device.map { try PIIValidation.text($0, field: "device", maximum: 256) }
        let state = try await subjectForWrite(id, context: context)
        return try await performing(context, AccessRequest(action: .write, dataClass: .pii, tenant: state.tenant, subject: id)) {
            let key = try subjectKey(id, tenant: state.tenant)
            let identifierID = try makeIdentifier("ident")
            var parts: [String: String] = [:]
            parts["ip"] = address
            parts["userAgent"] = agent
            parts["device"] = deviceName
            let json = String(decoding: try JSONEncoder().encode(parts), as: UTF8.self)
            let sealed = try seal(json, subject: id, field: "identifier-\(identifierID)", key: key)
            let mac = try address.map { try lookupMAC(kind: "ip", tenant: state.tenant, value: $0) }
            let now = nowMilliseconds()
            try await VaultDatabase.guarded {
                try await pii.write { db in
                    try db.execute(sql: "INSERT INTO identifier (id, subject_id, value, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [identifierID, id, sealed, now, now])
                    if let mac {
                        try db.execute(sql: "INSERT OR IGNORE INTO lookup (kind, mac, subject_id) VALUES ('ip', ?, ?)", arguments: [mac, id])
                    }
                }
            }
            return identifierID
        }
    }

    /// Restricts processing of a subject (P17), or lifts the restriction. Privacy officers only.
    public func restrictSubject(_ id: String, lift: Bool = false, context: AccessContext) async throws {
        try IdentifierRules.validateReference(id, as: "subject id")
        guard context.purpose == .subjectRequest || context.purpose == .legal else {
            let refusal = CofferError(.accessDenied, "restriction is set and lifted for subject requests or legal reasons only")
            try await record(context, AccessRequest(action: .write, dataClass: .pii, subject: id), decision: .failure(refusal))
            throw refusal
        }
        let state = try await subjectForWrite(id, context: context)
        try await performing(context, AccessRequest(action: .write, dataClass: .pii, tenant: state.tenant, subject: id)) {
            try await VaultDatabase.guarded {
                try await pii.write { db in
                    try db.execute(sql: "UPDATE subject SET status = ?, updated_at = ? WHERE id = ?",
                                   arguments: [lift ? "active" : "restricted", nowMilliseconds(), id])
                }
            }
        }
    }

    /// Sets a new password after the policy check.
    public func setPassword(_ id: String, password: String, context: AccessContext) async throws {
        try PIIValidation.refuseCardNumbers(password, field: "password")
        let settings = piiSettings
        try settings.passwordPolicy.check(password)
        let state = try await subjectForWrite(id, context: context)
        try await performing(context, AccessRequest(action: .write, dataClass: .pii, tenant: state.tenant, subject: id)) {
            try await replaceFields(id, tenant: state.tenant, [(.passwordHash, try PasswordHash.make(password, parameters: settings.passwordHashing))])
        }
    }

    /// Checks a password. On success with a hash made under weaker parameters than today's, the
    /// hash is remade with today's.
    /// - Returns: Whether the password matches.
    public func verifyPassword(_ id: String, password: String, context: AccessContext) async throws -> Bool {
        let state = try await subjectForWrite(id, action: .authenticate, context: context)
        return try await performing(context, AccessRequest(action: .authenticate, dataClass: .pii, tenant: state.tenant, subject: id)) {
            let key = try subjectKey(id, tenant: state.tenant)
            guard let sealed = try await VaultDatabase.guarded({
                try await pii.readReleasingEarly { db in
                    try Data.fetchOne(db, sql: "SELECT value FROM field WHERE subject_id = ? AND name = 'password-hash'", arguments: [id])
                }
            }) else { return false }
            let stored = try open(sealed, subject: id, field: SubjectField.passwordHash.rawValue, key: key)
            let (matches, parameters) = try PasswordHash.verify(password, against: stored)
            let current = piiSettings.passwordHashing
            if matches && parameters < current {
                try await replaceFields(id, tenant: state.tenant, [(.passwordHash, try PasswordHash.make(password, parameters: current))])
            }
            return matches
        }
    }
}
