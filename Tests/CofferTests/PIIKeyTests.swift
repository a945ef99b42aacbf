import Foundation
import GRDB
import Testing
@testable import Coffer
@testable import CofferCrypto

// PII keys of their own (pii-kek), a fresh subject key at every change of a subject's fields,
// blind-index keys per tenant, and the move of subjects made before any of this (pii.md).

private func rawWrite(_ t: TestVault, _ file: String, _ body: (Database) throws -> Void) throws {
    let queue = try DatabaseQueue(path: t.directory.appendingPathComponent(file).path)
    defer { try? queue.close() }
    try queue.write(body)
}

private func rawRead<T>(_ directory: URL, _ file: String, _ body: (Database) throws -> T) throws -> T {
    let queue = try DatabaseQueue(path: directory.appendingPathComponent(file).path)
    defer { try? queue.close() }
    return try queue.read(body)
}

/// The sealed value of one field, the key id and the tenant, read from a copy of the files.
private func sealedCopy(_ directory: URL, _ subject: SubjectID, _ field: SubjectField) throws -> (value: Data, keyID: String) {
    try rawRead(directory, Vault.FileName.pii) { db in
        let value = try #require(try Data.fetchOne(db, sql: "SELECT value FROM field WHERE subject_id = ? AND name = ?", arguments: [subject, field.rawValue]))
        let keyID = try #require(try String.fetchOne(db, sql: "SELECT key_id FROM subject WHERE id = ?", arguments: [subject]))
        return (value, keyID)
    }
}

/// Copies the vault's files (a backup taken by copying the directory).
private func copyFiles(_ t: TestVault) throws -> URL {
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-copy-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: t.directory, to: copy)
    return copy
}

@Suite("PII keys: their own KEK, a fresh key per change, per-tenant index keys, legacy subjects moved")
struct PIIKeyTests {
    @Test("after a correction the old value cannot be decrypted from a copy of the files taken before it", .embeddedFilesOnly)
    func correctionDestroysTheOldKey() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let id = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: "Old Co", context: .piiService)
            try await t.vault.setBilling(id, last4: "4242", address: "1 Old Street", context: .piiService)
            try await t.vault.recordConsent(id, kind: "marketing", granted: true, policyVersion: "v1", context: .piiService)
            let copy = try copyFiles(t)
            defer { try? FileManager.default.removeItem(at: copy) }
            let before = try sealedCopy(copy, id, .company)

            try await t.vault.correctSubject(id, field: .company, value: "New Co", context: .piiOfficer)
            let record = try await t.vault.subject(id, context: .piiOfficer)
            #expect(record.company == "New Co")
            #expect(record.billingAddress == "1 Old Street", "every other field moved with it")
            #expect(record.currentConsents == ["marketing": true], "and the consents")
            let after = try sealedCopy(t.directory, id, .company)
            #expect(after.keyID != before.keyID, "the subject moved to a fresh key")

            // The old key is gone from the live vault, and no key it holds opens the old value.
            let people = t.vault.people
            #expect(try t.vault.keys.subjectFieldKey(keyID: before.keyID, subject: id.rawValue, tenant: "acme") == nil)
            let keyRows = try await t.vault.control.read { db in
                try String.fetchAll(db, sql: "SELECT key_id FROM subject_key WHERE subject_id = ?", arguments: [id])
            }
            #expect(keyRows == [after.keyID])
            let oldRow = try #require(try rawRead(copy, Vault.FileName.pii) { db in
                try Row.fetchOne(db, sql: "SELECT tenant_id FROM subject WHERE id = ?", arguments: [id])
            })
            #expect(oldRow["tenant_id"] == "acme")
            let liveRow = try #require(try people.store.subjectRow(id))
            var oldAsOfNow = liveRow
            oldAsOfNow.keyID = before.keyID
            await expectCofferError(.notFound, "the old key") { _ = try people.fieldKey(for: oldAsOfNow) }
            await expectCofferError(.tamperDetected, "the new key on the old value") {
                _ = try people.open(before.value, row: liveRow, field: SubjectField.company.rawValue, key: people.fieldKey(for: liveRow))
            }

            // The copied PII file put back under the live control file: the old rows name a key
            // that no longer exists.
            try t.vault.close()
            try t.restorePIIFile(from: copy)
            let reopened = try await t.reopen()
            defer { try? reopened.close() }
            await expectCofferError(.notFound) { _ = try await reopened.subject(id, context: .piiOfficer) }
        }
    }

    @Test("a password change and a billing change also move the subject to a fresh key; the cache holds only the new one")
    func everyFieldChangeMovesTheKey() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let id = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil,
                                                  password: "Tr1cky-Secret9", context: .piiService)
            var seen: Set<String> = []
            for step in 0..<3 {
                try await t.vault.setBilling(id, last4: "424\(step)", address: "\(step) Street", context: .piiService)
                try await t.vault.setPassword(id, password: "Tr1cky-Secret\(step)x", context: .piiService)
                let keyID = try #require(try t.vault.people.store.subjectRow(id)?.keyID)
                #expect(seen.insert(keyID).inserted)
                #expect(try await t.vault.verifyPassword(id, password: "Tr1cky-Secret\(step)x", context: .piiService))
                #expect(t.vault.keys.cachedSubjectKeyCount == 1, "a replaced key leaves the cache at once")
            }
            let rows = try await t.vault.control.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM subject_key") ?? -1 }
            #expect(rows == 1)
        }
    }

    @Test("the same email has a different blind-index MAC in every tenant; find still works in each")
    func blindIndexPerTenant() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let a = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let g = try await t.vault.addSubject(tenant: "globex", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let macs = try await t.vault.pii.read { db in try Data.fetchAll(db, sql: "SELECT mac FROM lookup WHERE kind = 'email'") }
            #expect(macs.count == 2)
            #expect(Set(macs).count == 2, "pii.sqlite alone does not link the two")
            #expect(try await t.vault.findSubjects(email: "ada@example.com", context: .piiOfficer) == [a, g].sorted { $0.rawValue < $1.rawValue })
            #expect(try await t.vault.findSubjects(tenant: "globex", email: "ada@example.com", context: .piiOfficer) == [g])
        }
    }

    @Test("subject keys are wrapped under the PII KEK; a keyring whose pii-kek has other material is refused at open")
    func piiCanary() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            _ = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let pii = try #require(t.keyring.activePIIKey)
            let status = try await t.vault.keyStatus(context: .admin)
            #expect(status.filter { $0.dataClass == "pii-subject" }.map(\.kekID) == [pii.id])
            #expect(!status.filter { $0.dataClass != "pii-subject" }.contains { $0.kekID == pii.id })
            try t.vault.close()
            // Same ids, other pii-kek material.
            let forged = try Keyring.generate()
            let entries = t.keyring.entries.map { entry in
                guard entry.purpose == .piiKeyEncryption, let other = forged.entries.first(where: { $0.purpose == .piiKeyEncryption }) else { return entry }
                return Keyring.Entry(id: entry.id, purpose: entry.purpose, created: entry.created, material: other.material)
            }
            let wrong = Keyring(entries: entries, activeKeyID: t.keyring.activeKeyID, isDevelopment: false)
            let error = await expectCofferError(.invalidKey) { _ = try await t.reopen(keyring: wrong) }
            #expect(error?.message.contains("PII") == true)
        }
    }

    @Test("a vault and keyring from before pii-kek: open names the fix; once added, every subject moves to a key under it", .embeddedFilesOnly)
    func legacySubjectsMove() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            try t.vault.close()
            let legacy = try LegacySubject.write(into: t, tenant: "globex", name: "Ada Legacy", email: "ada@example.com",
                                                 company: "Analytical Engines", consent: Consent(kind: "marketing", granted: false, time: 1, policyVersion: "v0"))
            // The vault as it was before PII KEKs: no PII canary, a keyring without a pii-kek.
            try rawWrite(t, Vault.FileName.control) { db in
                try db.execute(sql: "DELETE FROM vault_info WHERE name IN ('pii_canary', 'pii_canary_kek')")
            }
            let old = Keyring(entries: t.keyring.entries.filter { $0.purpose != .piiKeyEncryption }, activeKeyID: t.keyring.activeKeyID,
                              isDevelopment: false)
            let refusal = await expectCofferError(.keyNotFound) { _ = try await t.reopen(keyring: old) }
            #expect(refusal?.message.contains("coffer keys add --purpose pii-kek") == true)

            let upgraded = try old.addingKey(for: .piiKeyEncryption)
            let vault = try await t.reopen(keyring: upgraded)
            defer { try? vault.close() }
            vault.configurePII(PIISettings(passwordHashing: .piiTestFast))
            let record = try await vault.subject(legacy, context: .piiOfficer)
            #expect(record.name == "Ada Legacy")
            #expect(record.company == "Analytical Engines")
            #expect(record.currentConsents == ["marketing": false])
            #expect(try await vault.findSubjects(tenant: "globex", email: "ada@example.com", context: .piiOfficer) == [legacy])
            let legacyRows = try await vault.control.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM legacy_subject_key") ?? -1 }
            #expect(legacyRows == 0, "the legacy key was destroyed")
            let status = try await vault.keyStatus(context: .admin).filter { $0.dataClass.hasPrefix("pii-subject") }
            #expect(Set(status.map(\.kekID)) == [try #require(upgraded.activePIIKey?.id)], "every subject key is under the PII KEK")
            #expect(try vault.people.store.subjectRow(legacy)?.tag != nil)
            // New subjects go under the PII KEK too.
            let modern = try await vault.addSubject(tenant: "acme", name: "Bo", email: "bo@example.com", company: nil, context: .piiService)
            #expect(try await vault.subject(modern, context: .piiOfficer).name == "Bo")
        }
    }

    @Test("a key stored for a subject that never arrived is destroyed at the next open, once past the grace period")
    func orphanedPendingKey() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let old = try t.vault.keys.createSubjectKey(subject: "subj_0123456789abcdef0123456789abcdef", tenant: "acme", now: 0)
            let recent = try t.vault.keys.createSubjectKey(subject: "subj_fedcba9876543210fedcba9876543210", tenant: "acme", now: nowMilliseconds())
            try t.vault.close()
            let reopened = try await t.reopen()
            let keys = try await reopened.control.read { db in try String.fetchAll(db, sql: "SELECT key_id FROM subject_key") }
            try reopened.close()
            #expect(!keys.contains(old), "past the grace period: destroyed")
            #expect(keys.contains(recent), "another process may be storing its subject right now: left alone")
        }
    }

    @Test("killed after the PII file moved to the new key but before the old key was destroyed: the next open destroys it")
    func crashBetweenRewriteAndSettle() async throws {
        try await withPIICLI { cli in
            let id = try addedSubject(try pii(cli, ["add", "--tenant", "acme", "--from", "-"], input: #"{"name": "Ada", "email": "ada@example.com", "company": "Old"}"#))
            let keysBefore = try rawRead(cli.vault, Vault.FileName.control) { db in try String.fetchAll(db, sql: "SELECT key_id FROM subject_key") }
            let value = cli.vault.deletingLastPathComponent().appendingPathComponent("company.json")
            try Data(#"{"value": "New"}"#.utf8).write(to: value)
            let crashed = try pii(cli, ["correct", id, "--field", "company", "--from", value.path] + asOfficer,
                                  environment: ["COFFER_CRASH_AT": "pii.after-rewrite"])
            #expect(crashed.status == 137, "\(crashed.error)")
            let during = try rawRead(cli.vault, Vault.FileName.control) { db in try String.fetchAll(db, sql: "SELECT key_id FROM subject_key") }
            #expect(during.count == 2, "the old key and the new, pending one")
            let show = try pii(cli, ["show", id, "--json"] + asOfficer)
            #expect(show.status == 0, "\(show.error)")
            #expect(show.output.contains("\"New\""))
            let after = try rawRead(cli.vault, Vault.FileName.control) { db in try String.fetchAll(db, sql: "SELECT key_id FROM subject_key") }
            #expect(after.count == 1)
            #expect(Set(after).isDisjoint(with: keysBefore), "the old key is gone, the new one stays")
        }
    }

    @Test("settling one move of a subject never destroys the key another move of it is storing")
    func concurrentMovesKeepTheirKeys() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let id = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let keys = t.vault.keys
            let first = try keys.createSubjectKey(subject: id.rawValue, tenant: "acme", now: nowMilliseconds())
            let second = try keys.createSubjectKey(subject: id.rawValue, tenant: "acme", now: nowMilliseconds())
            try keys.settleSubjectKey(first, subject: id.rawValue, tenant: "acme")
            #expect(try keys.subjectFieldKey(keyID: second, subject: id.rawValue, tenant: "acme") != nil, "the other move's pending key survives")
            try keys.settleSubjectKey(second, subject: id.rawValue, tenant: "acme")
            #expect(try keys.subjectFieldKey(keyID: first, subject: id.rawValue, tenant: "acme") == nil, "the first, settled and replaced, goes")
            await expectCofferError(.storage, "a key that is gone is not settled silently") {
                try keys.settleSubjectKey("sk_00000000000000000000000000000000", subject: id.rawValue, tenant: "acme")
            }
        }
    }
}

/// A subject stored the way Coffer stored them before subject keys had ids: a key wrapped under
/// the content KEK with the old context, values sealed with the old associated data, no tags.
private enum LegacySubject {
    static func write(into t: TestVault, tenant: TenantID, name: String, email: String, company: String, consent: Consent) throws -> SubjectID {
        let id = SubjectID(try makeIdentifier("subj"))
        let key = try SecureBytes.random(count: 32)
        let wrapped = try t.keyring.activeKey.wrap(key, context: legacySubjectKeyContext(subject: id.rawValue, tenant: tenant.rawValue))
        try rawWrite(t, Vault.FileName.control) { db in
            try db.execute(sql: "INSERT INTO legacy_subject_key (subject_id, tenant_id, kek_id, wrapped, created_at) VALUES (?, ?, ?, ?, 0)",
                           arguments: [id, tenant, wrapped.kekID, Data(wrapped.sealed)])
        }
        let fieldKey = try HKDF.deriveKey(from: key, salt: [UInt8](), info: Array("coffer/v1/pii-fields".utf8), length: 32)
        func seal(_ value: String, _ field: String) throws -> Data {
            Data(try AESGCM.seal(Array(value.utf8), key: fieldKey, aad: People.legacyFieldAAD(subject: id, field: field)))
        }
        let consentJSON = String(decoding: try JSONEncoder().encode(consent), as: UTF8.self)
        try rawWrite(t, Vault.FileName.pii) { db in
            try db.execute(sql: "INSERT INTO subject (id, tenant_id, status, created_at, updated_at) VALUES (?, ?, 'active', 0, 0)", arguments: [id, tenant])
            for (field, value) in [("name", name), ("email", email), ("company", company)] {
                try db.execute(sql: "INSERT INTO field (subject_id, name, value, updated_at) VALUES (?, ?, ?, 0)", arguments: [id, field, try seal(value, field)])
            }
            try db.execute(sql: "INSERT INTO consent (subject_id, seq, value) VALUES (?, 1, ?)", arguments: [id, try seal(consentJSON, "consent-1")])
            // The old index: one MAC for every tenant.
            try db.execute(sql: "INSERT INTO lookup (kind, mac, subject_id) VALUES ('email', ?, ?)", arguments: [Data(repeating: 7, count: 32), id])
        }
        return id
    }
}
