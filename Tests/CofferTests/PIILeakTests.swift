import Foundation
import GRDB
import Testing
@testable import Coffer

@Suite("PII at rest: no plaintext, separate files")
struct PIILeakTests {
    @Test("no PII value, nor a corrected old value, is in any file of the vault", .embeddedFilesOnly)
    func noPlaintextAnywhere() async throws {
        try await withPIIVault { t in
            let v = t.vault
            // Distinctive markers, one per kind of value.
            let name = "Zorblax Quintavious"
            let oldCompany = "Quexcorp Pharmacal Holdings"
            let newCompany = "Vexilloid Aerospace Syndicate"
            let email = "Wumpus.Marker@Glorptastic-Mail.example"
            let address = "77 Snorkelweed Crescent, Frobtown"
            let userAgent = "Blorfbrowser/9.81 (Zanzibar Edition)"
            let device = "Kwyjibo Phone XQ"
            let ipv6 = "2001:db8:cafe:f00d::51"
            let ipv6Typed = "2001:0DB8:CAFE:F00D:0000:0000:0000:0051"
            let ipv4 = "203.0.113.77"
            let consentKind = "zymurgy-newsletter"
            let policyVersion = "policy-Quokkaversion-3"
            let password = "Xyl0phoneMarkerPass"
            let secondName = "Ptolemy Bragwhistle"
            let secondPassword = "Hyp3rdriveMarkerKey"

            let id = try await v.addSubject(tenant: "acme", name: name, email: email, company: oldCompany, password: password,
                                            context: .piiService)
            let second = try await v.addSubject(tenant: "acme", name: secondName, email: "second.person@zibbleflap.example",
                                                company: nil, password: secondPassword, context: .piiService)
            try await v.setBilling(id, last4: "4242", address: address, context: .piiService)
            try await v.recordConsent(id, kind: consentKind, granted: true, policyVersion: policyVersion, context: .piiService)
            try await v.recordConsent(id, kind: consentKind, granted: false, policyVersion: policyVersion, context: .piiService)
            _ = try await v.addIdentifier(id, ip: ipv6Typed, userAgent: userAgent, device: device, context: .piiService)
            _ = try await v.addIdentifier(second, ip: ipv4, userAgent: nil, device: nil, context: .piiService)
            #expect(try await v.verifyPassword(id, password: password, context: .piiService))
            #expect(try await v.findSubjects(email: email, context: .piiService) == [id])
            #expect(try await v.findSubjects(ip: ipv4, context: .piiInvestigator) == [second])
            // Correct one field: the old value must vanish too.
            try await v.correctSubject(id, field: .company, value: newCompany, context: .piiOfficer)

            // The values are really there, for those allowed to read them.
            let record = try await v.subject(id, context: .piiOfficer)
            #expect(record.name == name)
            #expect(record.company == newCompany)
            #expect(record.billingAddress == address)
            #expect(record.currentConsents == [consentKind: false])
            #expect(record.consents.first?.policyVersion == policyVersion)
            #expect(record.identifiers.first?.ip == ipv6)
            #expect(record.identifiers.first?.userAgent == userAgent)
            #expect(try await v.subject(second, context: .piiOfficer).identifiers.first?.ip == ipv4)

            // Every file, including the WALs, shared-memory files and writers/.
            let files = try t.allFiles().map { String($0.path.dropFirst(t.directory.path.count)) }.sorted()
            for expected in ["/pii.sqlite", "/content.sqlite", "/control.sqlite", "/audit.sqlite"] {
                #expect(files.contains(expected), "\(files)")
            }
            #expect(files.contains { $0.hasSuffix("-wal") }, "the scan should cover WAL files too: \(files)")

            // The scanner works: the subject id (not personal data) is stored in clear.
            #expect(try piiFiles(under: t.directory, containing: Array(id.rawValue.utf8)).contains("/pii.sqlite"))

            var markers: [(String, [UInt8])] = [
                ("name", Array(name.utf8)), ("first name", Array("Zorblax".utf8)), ("second name", Array(secondName.utf8)),
                ("old company", Array(oldCompany.utf8)), ("old company word", Array("Quexcorp".utf8)),
                ("new company", Array(newCompany.utf8)),
                ("email", Array(email.utf8)), ("email lower-case", Array(email.lowercased().utf8)),
                ("email local part", Array("Wumpus.Marker".utf8)), ("email domain", Array("glorptastic-mail".utf8)),
                ("second email", Array("zibbleflap".utf8)),
                ("billing address", Array(address.utf8)), ("street", Array("Snorkelweed".utf8)),
                ("user agent", Array(userAgent.utf8)), ("user agent word", Array("Blorfbrowser".utf8)), ("device", Array(device.utf8)),
                ("IPv6 canonical", Array(ipv6.utf8)), ("IPv6 as typed", Array(ipv6Typed.utf8)), ("IPv6 lower-case", Array(ipv6Typed.lowercased().utf8)),
                ("IPv4", Array(ipv4.utf8)),
                ("consent kind", Array(consentKind.utf8)), ("policy version", Array("Quokkaversion".utf8)),
                ("password", Array(password.utf8)), ("second password", Array(secondPassword.utf8)),
            ]
            // The IPv6 address in binary (16 bytes is too long to occur by chance).
            var binary = in6_addr()
            #expect(inet_pton(AF_INET6, ipv6, &binary) == 1)
            markers.append(("IPv6 binary", withUnsafeBytes(of: binary) { Array($0) }))
            // UTF-16 forms, as some tools would write them.
            markers.append(("name UTF-16LE", Array(name.data(using: .utf16LittleEndian)!)))
            markers.append(("email UTF-16LE", Array(email.data(using: .utf16LittleEndian)!)))

            func scan(_ moment: String) throws {
                for (label, bytes) in markers {
                    let hits = try piiFiles(under: t.directory, containing: bytes)
                    #expect(hits.isEmpty, "\(moment): \(label) found in \(hits)")
                }
            }
            try scan("while open")
            // And once every WAL has been folded into its database and the vault is closed.
            try v.close()
            try scan("after close")
        }
    }

    @Test("PII and content live in separate files; subject keys live in the control file", .embeddedFilesOnly)
    func separateFiles() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let id = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, context: .piiService)
            let put = try await v.put(tenant: "acme", kind: .testScript, name: "script-1", bytes: Array("print(1)".utf8), context: .test)
            #expect(try await v.contentCount("SELECT count(*) FROM object WHERE id = ?", [put.objectID]) == 1)

            // Content, and the outbox where small puts' records wait for the log (ids, no values).
            let contentTables = try await v.files!.content.read(piiTableNames)
            #expect(contentTables == ["audit_outbox", "grdb_migrations", "object", "segment", "sqlite_sequence", "version"])
            let contentEntries = try v.files!.content.read { db in
                try Row.fetchAll(db, sql: "SELECT type, name, tbl_name FROM sqlite_master ORDER BY name")
            }
            for entry in contentEntries {
                let type: String = entry["type"], table: String = entry["tbl_name"]
                #expect(["table", "index"].contains(type), "\(entry)")
                #expect(["audit_outbox", "grdb_migrations", "object", "segment", "sqlite_sequence", "version"].contains(table), "\(entry)")
            }
            #expect(contentEntries.contains { ($0["type"] as String) == "index" })

            let piiTables = try await v.files!.pii.read(piiTableNames)
            #expect(piiTables == ["consent", "field", "grdb_migrations", "identifier", "lookup", "retained", "subject"])
            #expect(piiTables.allSatisfy { !["object", "version", "segment", "subject_key", "data_key"].contains($0) })
            let piiColumns = try await v.files!.pii.read { db in
                try piiTables.flatMap { table in try db.columns(in: table).map(\.name) }
            }
            // key_id names the subject's key in control.sqlite; no key material is here.
            #expect(!piiColumns.contains { ($0.contains("key") && $0 != "key_id") || $0 == "wrapped" }, "\(piiColumns)")

            let controlTables = try await v.files!.control.read(piiTableNames)
            #expect(controlTables.contains("subject_key"))
            #expect(!controlTables.contains { ["subject", "field", "consent", "identifier", "lookup", "object", "segment"].contains($0) })
            let keyRows = try v.files!.control.read { db in
                try Row.fetchAll(db, sql: "SELECT subject_id, tenant_id, length(wrapped) AS size FROM subject_key")
            }
            #expect(keyRows.count == 1)
            #expect(keyRows.first?["subject_id"] == id)
            #expect(keyRows.first?["tenant_id"] == "acme")
            #expect((keyRows.first?["size"] as Int?) ?? 0 > 32, "the subject key is stored wrapped")

            // The subject's key is not the content data key: the PII file has nothing that opens content.
            let dataKeyClasses = try await v.files!.control.read { db in try String.fetchAll(db, sql: "SELECT DISTINCT data_class FROM data_key") }
            #expect(!dataKeyClasses.contains("pii"), "\(dataKeyClasses)")
        }
    }
}
