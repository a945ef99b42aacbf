import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto

@Suite("Input validation: names, identifiers, ranges")
struct InputValidationTests {
    @Test("object names with U+FFFD, control characters, no text or too much text are refused before anything is recorded",
          arguments: ["x\u{FFFD}y", "tab\there", "line\nbreak", "cr\rhere", "nul\u{0}", "del\u{7F}", "c1\u{85}", "c1\u{9B}31m", "sep\u{2028}arator", "para\u{2029}", "",
                      String(repeating: "n", count: 1025)])
    func badNames(name: String) async throws {
        try await withTestVault { t in
            let size = try t.auditLogSize()
            await expectCofferError(.invalidArgument, "\(name.debugDescription)") {
                try await t.vault.put(tenant: "acme", kind: .testScript, name: name, bytes: [1, 2, 3], context: .test)
            }
            #expect(try t.auditLogSize() == size, "nothing is recorded for a refused name")
        }
    }

    @Test("names with right-to-left text, bidi controls and 1024 bytes are still accepted")
    func goodNames() async throws {
        try await withTestVault { t in
            for name in ["שלום.txt", "report\u{202E}txt.exe", String(repeating: "n", count: 1024), "a b", "日本語"] {
                let (id, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: name, bytes: [1], context: .test)
                #expect(try await t.vault.stat(tenant: "acme", objectID: id, context: .test).name == name)
            }
        }
    }

    @Test("actors with commas, tabs, control characters, line breaks or nothing are refused",
          arguments: ["", "a,b", "a\tb", "a\nb", "a\u{2028}b", "bell\u{7}", "c1\u{9B}", "x\u{FFFD}", "bidi\u{202E}",
                      String(repeating: "a", count: 129)])
    func badActors(actor: String) async {
        await expectCofferError(.invalidArgument, "\(actor.debugDescription)") {
            _ = try AccessContext(actor: PrincipalID(actor), purpose: .serviceOperation)
        }
        await expectCofferError(.invalidArgument, "\(actor.debugDescription)") {
            try IdentifierRules.validatePrincipal(actor)
        }
    }

    @Test("request ids and clients with control characters are refused")
    func badLabels() async {
        await expectCofferError(.invalidArgument) { _ = try AccessContext(actor: "a", purpose: .audit, requestID: "r\n1") }
        await expectCofferError(.invalidArgument) { _ = try AccessContext(actor: "a", purpose: .audit, client: "\u{1B}[2J") }
        #expect(throws: Never.self) { _ = try AccessContext(actor: "ops@example.com", purpose: .audit, requestID: "req-1", client: "10.0.0.1") }
    }

    @Test("tenant ids '.', '..' and ones starting with '-' are refused everywhere, unrecorded",
          arguments: [".", "..", "-acme", "-", "ACME", "a/b", "a b", "", String(repeating: "t", count: 65)])
    func badTenants(text: String) async throws {
        let tenant = TenantID(text)
        try await withTestVault { t in
            let size = try t.auditLogSize()
            await expectCofferError(.invalidArgument, "create \(tenant)") { try await t.vault.createTenant(tenant, context: .admin) }
            await expectCofferError(.invalidArgument, "principal \(tenant)") {
                try await t.vault.addPrincipal("someone", roles: [.service], tenants: [tenant], context: .admin)
            }
            await expectCofferError(.invalidArgument, "list \(tenant)") { _ = try await t.vault.list(tenant: tenant, context: .test) }
            #expect(try t.auditLogSize() == size)
        }
        #expect(throws: Never.self) { try IdentifierRules.validateTenant("a.b-c_d") }
        #expect(throws: Never.self) { try IdentifierRules.validateTenant("acme.") }
    }

    @Test("principal, grantee, subject and object ids with commas, tabs or control characters are refused, unrecorded")
    func badReferences() async throws {
        try await withTestVault { t in
            try await t.vault.addPrincipal("po", roles: [.privacyOfficer], context: .admin)
            let po = accessContext("po", .subjectRequest)
            let size = try t.auditLogSize()
            for id in ["a,b", "a\tb", "a\nb", "", "\u{1B}[31m"] {
                await expectCofferError(.invalidArgument, "principal \(id.debugDescription)") {
                    try await t.vault.addPrincipal(PrincipalID(id), roles: [.service], context: .admin)
                }
                await expectCofferError(.invalidArgument, "remove \(id.debugDescription)") { try await t.vault.removePrincipal(PrincipalID(id), context: .admin) }
                await expectCofferError(.invalidArgument, "grantee \(id.debugDescription)") {
                    _ = try await t.vault.issueGrant(to: PrincipalID(id), tenant: "acme", purpose: .support, expiresAt: nowMilliseconds() + 60_000,
                                                     reason: "r", context: po)
                }
                await expectCofferError(.invalidArgument, "grant subject \(id.debugDescription)") {
                    _ = try await t.vault.issueGrant(to: "store-tests", tenant: "acme", subject: SubjectID(id), purpose: .support,
                                                     expiresAt: nowMilliseconds() + 60_000, reason: "r", context: po)
                }
                await expectCofferError(.invalidArgument, "read \(id.debugDescription)") {
                    _ = try await t.vault.readAll(tenant: "acme", objectID: ObjectID(id), context: .test)
                }
                await expectCofferError(.invalidArgument, "stat \(id.debugDescription)") {
                    _ = try await t.vault.stat(tenant: "acme", objectID: ObjectID(id), context: .test)
                }
                await expectCofferError(.invalidArgument, "delete \(id.debugDescription)") {
                    try await t.vault.delete(tenant: "acme", objectID: ObjectID(id), context: .test)
                }
                await expectCofferError(.invalidArgument, "subject \(id.debugDescription)") {
                    _ = try await t.vault.subject(SubjectID(id), context: .piiOfficer)
                }
                await expectCofferError(.invalidArgument, "revoke \(id.debugDescription)") { try await t.vault.revokeGrant(GrantID(id), context: po) }
            }
            #expect(try t.auditLogSize() == size, "nothing is recorded for a refused id")
        }
    }

    @Test("a range starting past the end is refused before anything is recorded")
    func rangePastTheEnd() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "ten", bytes: Array(0..<10) as [UInt8], context: .test)
            for range: ClosedRange<Int64> in [10...20, 1000...1001, Int64.max...Int64.max, (-5)...3, Int64.min...(-9)] {
                let added = try await t.recordsAdded {
                    let (released, error) = await t.vault.readCapturing(tenant: "acme", objectID: id, range: range)
                    #expect(released.isEmpty)
                    #expect((error as? CofferError)?.code == .invalidArgument, "\(range): \(String(describing: error))")
                }
                #expect(added.isEmpty, "\(range) recorded \(added.map { "\($0.outcome) \($0.bytes ?? 0)" })")
            }
        }
    }

    @Test("the bytes a range read records are what it serves, never negative")
    func rangeBytes() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "ten", bytes: Array(0..<10) as [UInt8], context: .test)
            let (empty, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "empty", bytes: [UInt8](), context: .test)
            for (objectID, range, served) in [(id, Int64(0)...Int64.max, 10), (id, 9...9, 1), (id, 3...100, 7), (empty, 0...5, 0)] {
                let added = try await t.recordsAdded {
                    let bytes = try await t.vault.readRange(tenant: "acme", objectID: objectID, range)
                    #expect(bytes.count == served)
                }
                #expect(added.map(\.bytes) == [Int64(served)], "\(range)")
                #expect(added.map(\.outcome) == [.allowed])
            }
        }
    }

    @Test("byte sums in the access review saturate instead of trapping on a log with huge counts")
    func reviewSumsDoNotOverflow() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "x", bytes: [1], context: .test)
            _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test)
            _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test)
            // Someone with write access to audit.sqlite sets the byte counts near Int64.max.
            try t.tamper { db in try db.execute(sql: "UPDATE record SET bytes = ? WHERE bytes IS NOT NULL", arguments: [Int64.max - 1]) }
            let review = try await t.vault.accessReview(from: 0, to: nowMilliseconds() + 60_000, context: .testAuditor)
            #expect(review.actors.first { $0.actor == "store-tests" }?.bytes == Int64.max)
            #expect(review.markdown.contains("\(Int64.max)"))
        }
    }

    @Test("more than StreamingAEAD.maximumWorkers threads are refused with invalid-argument")
    func tooManyWorkers() async throws {
        let aead = try StreamingAEAD(key: SecureBytes.random(count: 32), segmentSize: 4096)
        try await withTemporaryPath { dir in
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let path = dir.appendingPathComponent("in").path
            try Data(repeating: 1, count: 100_000).write(to: URL(fileURLWithPath: path))
            let input = open(path, O_RDONLY), output = open("/dev/null", O_WRONLY)
            defer { close(input); close(output) }
            await expectCofferError(.invalidArgument) {
                try aead.seal(readingFrom: input, writingTo: output, aad: [UInt8](), workers: 100_000)
            }
        }
        #expect(StreamingAEAD.defaultWorkers <= StreamingAEAD.maximumWorkers)
    }
}
