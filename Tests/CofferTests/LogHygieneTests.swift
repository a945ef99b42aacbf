import CofferCrypto
import Foundation
import GRDB
import Testing
@testable import Coffer

/// The access log holds no personal data and cannot be emptied early.
@Suite("Access log hygiene and retention")
struct LogHygieneTests {
    @Test("a justification of whitespace alone is no justification: PII access is refused")
    func whitespaceJustification() async throws {
        try await withPIIVault { t in
            for blank in ["   ", "\t\n ", "\u{2003}"] {
                let context = try AccessContext(actor: "store-tests", purpose: .serviceOperation, justification: blank)
                #expect(context.justification == nil)
                await expectCofferError(.purposeMissing) {
                    _ = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: context)
                }
            }
            let padded = try AccessContext(actor: "store-tests", purpose: .serviceOperation, justification: "  sign-up  ")
            #expect(padded.justification == "sign-up")
        }
    }

    @Test("free text in a context cannot carry a card number, control characters or a novel",
          arguments: ["justification", "request id", "client"])
    func freeText(field: String) throws {
        func context(_ text: String) throws -> AccessContext {
            switch field {
            case "justification": return try AccessContext(actor: "a", purpose: .support, justification: text)
            case "request id": return try AccessContext(actor: "a", purpose: .support, requestID: text)
            default: return try AccessContext(actor: "a", purpose: .support, client: text)
            }
        }
        #expect(throws: CofferError.self) { try context("card 4111 1111 1111 1111 on file") }
        do { _ = try context("4111-1111-1111-1111") } catch let error as CofferError { #expect(error.code == .cardNumberRefused) }
        #expect(throws: CofferError.self) { try context("line\nbreak") }
        #expect(throws: CofferError.self) { try context("esc\u{1B}[31m") }
        #expect(throws: CofferError.self) { try context(String(repeating: "x", count: field == "justification" ? 1025 : 257)) }
        _ = try context("ticket 4711, order 12345678")
    }

    @Test("a client that is an IP address is logged only as a keyed hash")
    func ipClient() async throws {
        try await withTestVault { t in
            for client in ["203.0.113.7", " 203.0.113.7", "2001:db8::1", "2001:0db8:0000::0001", "coffer-cli"] {
                _ = try await t.vault.list(tenant: "acme", context: accessContext("store-tests", .serviceOperation, client: client))
            }
            let clients = try t.auditLogRecords().suffix(5).map { $0.client ?? "" }
            #expect(clients[0].hasPrefix("ip-hmac:") && clients[0].count == "ip-hmac:".count + 32, "\(clients)")
            #expect(clients[0] == clients[1], "the same address gives the same hash")
            #expect(clients[2] == clients[3], "an IPv6 address is normalised first")
            #expect(clients[0] != clients[2])
            #expect(clients[4] == "coffer-cli")
            #expect(try t.auditLogRecords().allSatisfy { $0.client != "203.0.113.7" })
            #expect(try await t.verifyLog().ok)
            try t.vault.close()
            // On PostgreSQL the record rows above are all the log has; on SQLite its files too.
            for file in t.vault.files == nil ? [] : try FileManager.default.contentsOfDirectory(atPath: t.directory.path) where file.hasPrefix("audit") {
                let bytes = try Data(contentsOf: t.directory.appendingPathComponent(file))
                #expect(!contains(bytes, Array("203.0.113.7".utf8)), "\(file) holds the address")
                #expect(!contains(bytes, Array("2001:db8::1".utf8)), "\(file) holds the address")
            }
        }
    }

    @Test("pruning inside the minimum retention, or past now, is refused and records nothing")
    func pruneRespectsRetention() async throws {
        try await withTestVault { t in
            let size = try t.auditLogSize()
            let now = nowMilliseconds()
            for time in [now + 86_400_000, now, now - 399 * 86_400_000] {
                await expectCofferError(.invalidArgument) { _ = try await t.vault.pruneAuditLog(before: time, context: .admin) }
            }
            #expect(try t.auditLogSize() == size)
            #expect(try await t.vault.pruneAuditLog(before: now - 401 * 86_400_000, context: .admin) == .pruned(records: 0))
        }
    }

    @Test("the minimum retention can only be raised, by an admin; it lives in the log and survives a prune")
    func raiseRetention() async throws {
        try await withTestVault { t in
            #expect(try await t.vault.auditRetentionDays(context: .testAuditor) == 400)
            await expectCofferError(.invalidArgument) { try await t.vault.raiseAuditRetention(toDays: 399, context: .admin) }
            await expectCofferError(.invalidArgument) { try await t.vault.raiseAuditRetention(toDays: 40_000, context: .admin) }
            try await t.vault.addPrincipal("aud", roles: [.auditor], context: .admin)
            try await expectDenied(t, actor: "aud", action: .configure, dataClass: .auditLog, purpose: .audit) {
                try await t.vault.raiseAuditRetention(toDays: 500, context: accessContext("aud", .audit))
            }
            try await t.vault.raiseAuditRetention(toDays: 500, context: .admin)
            #expect(try await t.vault.auditRetentionDays(context: .testAuditor) == 500)
            await expectCofferError(.invalidArgument) { try await t.vault.raiseAuditRetention(toDays: 450, context: .admin) }

            // 450 days later, the raised retention still stops a prune that the default allowed.
            t.vault.administration.clock.advance(by: 450 * 86_400_000)
            await expectCofferError(.invalidArgument) {
                _ = try await t.vault.pruneAuditLog(before: t.vault.administration.clock.now() - 401 * 86_400_000, context: .admin)
            }
            // 600 days on, everything so far may go but the setting, which outlives the prune.
            t.vault.administration.clock.advance(by: 600 * 86_400_000)
            _ = try await t.vault.pruneAuditLog(before: nowMilliseconds() + 1, context: .admin)
            #expect(try await t.vault.auditRetentionDays(context: .testAuditor) == 500)
            #expect(try await t.verifyLog().ok)
        }
    }
}
