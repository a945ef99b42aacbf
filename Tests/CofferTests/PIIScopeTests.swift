import Foundation
import Testing
@testable import Coffer

@Suite("PII lookups respect scope and restriction; the PII file is never recreated empty")
struct PIIScopeTests {
    @Test("a tenant-scoped service finds only in its tenants, even without --tenant")
    func scopedFind() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let inAcme = try await t.vault.addSubject(tenant: "acme", name: "A", email: "same@example.com", company: nil, context: .piiService)
            let inGlobex = try await t.vault.addSubject(tenant: "globex", name: "G", email: "same@example.com", company: nil, context: .piiService)
            #expect(try await t.vault.findSubjects(email: "same@example.com", context: .piiService) == [inAcme, inGlobex].sorted())
            try await t.vault.addPrincipal("acme-backend", roles: [.service], tenants: ["acme"], context: .admin)
            let scoped = try AccessContext(actor: "acme-backend", purpose: .serviceOperation, justification: "login")
            #expect(try await t.vault.findSubjects(email: "same@example.com", context: scoped) == [inAcme])
        }
    }

    @Test("a restricted subject is not found by the backend, but is for a subject request")
    func restrictedNotFound() async throws {
        try await withPIIVault { t in
            let id = try await t.vault.addSubject(tenant: "acme", name: "R", email: "r@example.com", company: nil, context: .piiService)
            try await t.vault.restrictSubject(id, context: .piiOfficer)
            #expect(try await t.vault.findSubjects(email: "r@example.com", context: .piiService).isEmpty)
            #expect(try await t.vault.findSubjects(email: "r@example.com", context: .piiOfficer) == [id])
        }
    }

    @Test("a missing pii.sqlite is refused, not recreated empty", .embeddedFilesOnly)
    func missingPIIFile() async throws {
        try await withPIIVault { t in
            _ = try await t.vault.addSubject(tenant: "acme", name: "M", email: "m@example.com", company: nil, context: .piiService)
            try t.vault.close()
            for suffix in ["", "-wal", "-shm"] {
                try? FileManager.default.removeItem(at: t.directory.appendingPathComponent("pii.sqlite" + suffix))
            }
            await expectCofferError(.notFound) { _ = try await t.reopen() }
            #expect(!FileManager.default.fileExists(atPath: t.directory.appendingPathComponent("pii.sqlite").path))
        }
    }
}
