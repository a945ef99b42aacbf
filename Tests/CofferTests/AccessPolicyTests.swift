import Foundation
import Testing
@testable import Coffer

/// Roles and policy, through the vault's API. Every refusal must be the one record it adds to
/// the log (outcome `denied`), and must read or change nothing.
@Suite("Access policy and roles")
struct AccessPolicyTests {
    /// The refusals the public query returns (oldest first), which must be exactly `expected`.
    private func expectDenialsQueried(_ t: TestVault, _ expected: [AuditRecord?],
                                      sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let queried = try await t.vault.auditRecords(AuditQuery(outcome: .denied, limit: 1000), context: .testAuditor)
        #expect(Array(queried.reversed()) == expected.compactMap { $0 }, sourceLocation: sourceLocation)
        #expect(expected.allSatisfy { $0 != nil }, sourceLocation: sourceLocation)
    }

    private func objectCount(_ t: TestVault, tenant: TenantID) async throws -> Int {
        try await t.vault.contentCount("SELECT count(*) FROM object WHERE tenant_id = ?", [tenant])
    }

    @Test("support lists and stats for purpose support, but cannot read, write or delete content")
    func support() async throws {
        try await withTestVault { t in
            try await t.vault.addPrincipal("sam", roles: [.support], context: .admin)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "report", bytes: Array("hello".utf8), context: .test)
            let sam = accessContext("sam", .support)

            let listed = try await t.recordsAdded {
                let page = try await t.vault.list(tenant: "acme", context: sam)
                #expect(page.objects.map(\.id) == [id])
            }
            #expect(listed.map(\.action) == ["list"])
            #expect(listed.first?.role == "support")
            #expect(listed.first?.outcome == .allowed)
            #expect(listed.first?.purpose == "support")
            let statted = try await t.recordsAdded {
                let info = try await t.vault.stat(tenant: "acme", objectID: id, context: sam)
                #expect(info.name == "report")
            }
            #expect(statted.map(\.action) == ["stat"])
            #expect(statted.first?.dataClass == "metadata")
            #expect(statted.first?.objectID == id.rawValue)
            // customer-request is the other purpose support may use.
            _ = try await t.vault.list(tenant: "acme", context: accessContext("sam", .customerRequest))

            var denials: [AuditRecord?] = []
            var served: [UInt8] = []
            denials.append(try await expectDenied(t, actor: "sam", action: .read, dataClass: .content, purpose: .support, tenant: "acme") {
                try await t.vault.read(tenant: "acme", objectID: id, context: sam) { served.append(contentsOf: $0) }
            })
            #expect(served.isEmpty)
            #expect(denials.last??.objectID == id.rawValue)
            let objects = try await objectCount(t, tenant: "acme")
            let versions = try await t.vault.contentCount("SELECT count(*) FROM version")
            denials.append(try await expectDenied(t, actor: "sam", action: .write, dataClass: .content, purpose: .support, tenant: "acme") {
                _ = try await t.vault.put(tenant: "acme", kind: .testResult, name: "sam-note", bytes: Array("note".utf8), context: sam)
            })
            #expect(try await objectCount(t, tenant: "acme") == objects)
            #expect(try await t.vault.contentCount("SELECT count(*) FROM version") == versions)
            denials.append(try await expectDenied(t, actor: "sam", action: .delete, dataClass: .content, purpose: .support, tenant: "acme") {
                try await t.vault.delete(tenant: "acme", objectID: id, context: sam)
            })
            #expect(try await t.vault.readAll(tenant: "acme", objectID: id, context: .test) == Array("hello".utf8))
            // Support's metadata access is for support and customer requests only.
            denials.append(try await expectDenied(t, actor: "sam", action: .list, dataClass: .metadata, purpose: .serviceOperation,
                                                  tenant: "acme") {
                _ = try await t.vault.list(tenant: "acme", context: accessContext("sam", .serviceOperation))
            })
            // Nor may support read the access log.
            denials.append(try await expectDenied(t, actor: "sam", action: .auditRead, dataClass: .auditLog, purpose: .audit) {
                _ = try await t.vault.auditRecords(AuditQuery(), context: accessContext("sam", .audit))
            })
            try await expectDenialsQueried(t, denials)
        }
    }

    @Test("reporting cannot read content nor list or stat objects")
    func reporting() async throws {
        try await withTestVault { t in
            try await t.vault.addPrincipal("rita", roles: [.reporting], context: .admin)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "r", bytes: Array("numbers".utf8), context: .test)
            var denials: [AuditRecord?] = []
            var served: [UInt8] = []
            for purpose in [Purpose.serviceOperation, .audit] {
                denials.append(try await expectDenied(t, actor: "rita", action: .read, dataClass: .content, purpose: purpose, tenant: "acme") {
                    try await t.vault.read(tenant: "acme", objectID: id, context: accessContext("rita", purpose)) { served.append(contentsOf: $0) }
                })
            }
            #expect(served.isEmpty)
            denials.append(try await expectDenied(t, actor: "rita", action: .list, dataClass: .metadata, purpose: .serviceOperation, tenant: "acme") {
                _ = try await t.vault.list(tenant: "acme", context: accessContext("rita", .serviceOperation))
            })
            denials.append(try await expectDenied(t, actor: "rita", action: .stat, dataClass: .metadata, purpose: .serviceOperation, tenant: "acme") {
                _ = try await t.vault.stat(tenant: "acme", objectID: id, context: accessContext("rita", .serviceOperation))
            })
            try await expectDenialsQueried(t, denials)
        }
    }

    @Test("an auditor queries and verifies the log for purpose audit, and cannot read content")
    func auditor() async throws {
        try await withTestVault { t in
            try await t.vault.addPrincipal("aud", roles: [.auditor], context: .admin)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "r", bytes: Array("data".utf8), context: .test)
            let aud = accessContext("aud", .audit)
            let size = try t.auditLogSize()
            let records = try await t.vault.auditRecords(AuditQuery(), context: aud)
            // The query is recorded before it runs, so it sees itself first.
            #expect(records.map(\.sequence) == Array((1...(size + 1)).reversed()))
            let own = try #require(records.first)
            #expect(own.actor == "aud")
            #expect(own.action == "audit-read")
            #expect(own.dataClass == "audit-log")
            #expect(own.role == "auditor")
            #expect(own.purpose == "audit")
            #expect(try await t.vault.verifyAuditLog(context: aud).ok)

            var denials: [AuditRecord?] = []
            var served: [UInt8] = []
            for purpose in [Purpose.audit, .serviceOperation] {
                denials.append(try await expectDenied(t, actor: "aud", action: .read, dataClass: .content, purpose: purpose, tenant: "acme") {
                    try await t.vault.read(tenant: "acme", objectID: id, context: accessContext("aud", purpose)) { served.append(contentsOf: $0) }
                })
            }
            #expect(served.isEmpty)
            denials.append(try await expectDenied(t, actor: "aud", action: .list, dataClass: .metadata, purpose: .audit, tenant: "acme") {
                _ = try await t.vault.list(tenant: "acme", context: aud)
            })
            // The log is for purpose audit only.
            denials.append(try await expectDenied(t, actor: "aud", action: .auditRead, dataClass: .auditLog, purpose: .support) {
                _ = try await t.vault.auditRecords(AuditQuery(), context: accessContext("aud", .support))
            })
            try await expectDenialsQueried(t, denials)
        }
    }

    @Test("a service principal limited to acme is refused on globex")
    func tenantScope() async throws {
        try await withTestVault(tenants: ["acme", "globex"]) { t in
            try await t.vault.addPrincipal("svc-acme", roles: [.service], tenants: ["acme"], context: .admin)
            let svc = accessContext("svc-acme", .serviceOperation)
            let (acmeID, _) = try await t.vault.put(tenant: "acme", kind: .config, name: "a", bytes: Array("acme data".utf8), context: .test)
            let (globexID, _) = try await t.vault.put(tenant: "globex", kind: .config, name: "g", bytes: Array("globex data".utf8), context: .test)
            #expect(try await t.vault.readAll(tenant: "acme", objectID: acmeID, context: svc) == Array("acme data".utf8))
            try await t.vault.put(tenant: "acme", kind: .config, name: "a2", bytes: Array("more".utf8), context: svc)

            var denials: [AuditRecord?] = []
            var served: [UInt8] = []
            let read = try await expectDenied(t, actor: "svc-acme", action: .read, dataClass: .content, purpose: .serviceOperation,
                                              tenant: "globex") {
                try await t.vault.read(tenant: "globex", objectID: globexID, context: svc) { served.append(contentsOf: $0) }
            }
            denials.append(read)
            #expect(served.isEmpty)
            #expect(read?.objectID == globexID.rawValue)
            #expect(read?.reason?.contains("tenant 'globex'") == true)
            let globexObjects = try await objectCount(t, tenant: "globex")
            denials.append(try await expectDenied(t, actor: "svc-acme", action: .write, dataClass: .content, purpose: .serviceOperation,
                                                  tenant: "globex") {
                _ = try await t.vault.put(tenant: "globex", kind: .config, name: "intrusion", bytes: Array("x".utf8), context: svc)
            })
            #expect(try await objectCount(t, tenant: "globex") == globexObjects)
            denials.append(try await expectDenied(t, actor: "svc-acme", action: .delete, dataClass: .content, purpose: .serviceOperation,
                                                  tenant: "globex") {
                try await t.vault.delete(tenant: "globex", objectID: globexID, context: svc)
            })
            denials.append(try await expectDenied(t, actor: "svc-acme", action: .list, dataClass: .metadata, purpose: .serviceOperation,
                                                  tenant: "globex") {
                _ = try await t.vault.list(tenant: "globex", context: svc)
            })
            denials.append(try await expectDenied(t, actor: "svc-acme", action: .tenantCreate, dataClass: .administration,
                                                  purpose: .serviceOperation, tenant: "initech") {
                try await t.vault.createTenant("initech", context: svc)
            })
            #expect(try await t.vault.tenants(context: .admin) == ["acme", "globex"])
            #expect(try await t.vault.readAll(tenant: "globex", objectID: globexID, context: .test) == Array("globex data".utf8))
            try await expectDenialsQueried(t, denials)
        }
    }

    @Test("an unregistered actor is refused everything")
    func unregistered() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .config, name: "a", bytes: Array("secret".utf8), context: .test)
            let nobody = accessContext("nobody", .serviceOperation)
            var denials: [AuditRecord?] = []
            var served: [UInt8] = []
            let read = try await expectDenied(t, actor: "nobody", action: .read, dataClass: .content, purpose: .serviceOperation, tenant: "acme") {
                try await t.vault.read(tenant: "acme", objectID: id, context: nobody) { served.append(contentsOf: $0) }
            }
            denials.append(read)
            #expect(served.isEmpty)
            #expect(read?.reason?.contains("not a registered principal") == true)
            let objects = try await objectCount(t, tenant: "acme")
            denials.append(try await expectDenied(t, actor: "nobody", action: .write, dataClass: .content, purpose: .serviceOperation, tenant: "acme") {
                _ = try await t.vault.put(tenant: "acme", kind: .config, name: "b", bytes: Array("x".utf8), context: nobody)
            })
            #expect(try await objectCount(t, tenant: "acme") == objects)
            denials.append(try await expectDenied(t, actor: "nobody", action: .auditRead, dataClass: .auditLog, purpose: .audit) {
                _ = try await t.vault.auditRecords(AuditQuery(), context: accessContext("nobody", .audit))
            })
            denials.append(try await expectDenied(t, actor: "nobody", action: .principalAdmin, dataClass: .administration,
                                                  purpose: .administration) {
                try await t.vault.addPrincipal("nobody", roles: [.admin], context: accessContext("nobody", .administration))
            })
            #expect(try t.vault.administration.principal(id: "nobody") == nil)
            try await expectDenialsQueried(t, denials)
        }
    }

    @Test("a role's action for a purpose the policy does not list is refused")
    func wrongPurpose() async throws {
        try await withTestVault { t in
            try await t.vault.addPrincipal("svc", roles: [.service], context: .admin)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .config, name: "a", bytes: Array("content".utf8), context: .test)
            var denials: [AuditRecord?] = []
            var served: [UInt8] = []
            for purpose in [Purpose.legal, .support, .audit] {
                denials.append(try await expectDenied(t, actor: "svc", action: .read, dataClass: .content, purpose: purpose, tenant: "acme") {
                    try await t.vault.read(tenant: "acme", objectID: id, context: accessContext("svc", purpose)) { served.append(contentsOf: $0) }
                })
                #expect(denials.last??.reason?.contains("purpose \(purpose.code)") == true)
            }
            // Even the vault's creator (admin, auditor, service) may not read content for administration.
            denials.append(try await expectDenied(t, actor: "store-tests", action: .read, dataClass: .content, purpose: .administration,
                                                  tenant: "acme") {
                try await t.vault.read(tenant: "acme", objectID: id, context: .admin) { served.append(contentsOf: $0) }
            })
            #expect(served.isEmpty)
            // The same principal for a listed purpose is allowed.
            #expect(try await t.vault.readAll(tenant: "acme", objectID: id, context: accessContext("svc", .customerRequest)) == Array("content".utf8))
            try await expectDenialsQueried(t, denials)
        }
    }

    @Test("only an admin adds or removes principals, and nobody removes itself")
    func principalAdministration() async throws {
        try await withTestVault { t in
            try await t.vault.addPrincipal("sam", roles: [.support], context: .admin)
            try await t.vault.addPrincipal("svc", roles: [.service, .auditor], context: .admin)
            var denials: [AuditRecord?] = []
            let byAdmin = try t.auditLogRecords().suffix(2)
            #expect(byAdmin.map(\.objectID) == ["sam", "svc"])
            #expect(byAdmin.allSatisfy { $0.action == "principal-admin" && $0.role == "admin" && $0.outcome == .allowed })

            denials.append(try await expectDenied(t, actor: "sam", action: .principalAdmin, dataClass: .administration, purpose: .support) {
                try await t.vault.addPrincipal("eve", roles: [.admin], context: accessContext("sam", .support))
            })
            #expect(denials.last??.objectID == "eve")
            denials.append(try await expectDenied(t, actor: "svc", action: .principalAdmin, dataClass: .administration, purpose: .administration) {
                try await t.vault.addPrincipal("eve", roles: [.admin], context: accessContext("svc", .administration))
            })
            // An admin acting for another purpose is refused too.
            denials.append(try await expectDenied(t, actor: "store-tests", action: .principalAdmin, dataClass: .administration,
                                                  purpose: .serviceOperation) {
                try await t.vault.addPrincipal("eve", roles: [.admin], context: .test)
            })
            #expect(try t.vault.administration.principal(id: "eve") == nil)
            denials.append(try await expectDenied(t, actor: "svc", action: .principalAdmin, dataClass: .administration, purpose: .administration) {
                try await t.vault.removePrincipal("sam", context: accessContext("svc", .administration))
            })
            #expect(denials.last??.objectID == "sam")
            denials.append(try await expectDenied(t, actor: "sam", action: .principalAdmin, dataClass: .administration, purpose: .support) {
                try await t.vault.removePrincipal("sam", context: accessContext("sam", .support))
            })
            #expect(try t.vault.administration.principal(id: "sam")?.roles == [.support])
            // Listing principals is administration too.
            denials.append(try await expectDenied(t, actor: "sam", action: .list, dataClass: .administration, purpose: .support) {
                _ = try await t.vault.principals(context: accessContext("sam", .support))
            })
            #expect(try await t.vault.principals(context: .admin).map(\.id) == ["sam", "store-tests", "svc"])

            // Nobody removes itself: allowed by policy, then refused, both recorded.
            let selfRemoval = try await t.recordsAdded {
                await expectCofferError(.invalidArgument) { try await t.vault.removePrincipal("store-tests", context: .admin) }
            }
            #expect(selfRemoval.map(\.outcome) == [.allowed, .error])
            #expect(selfRemoval.map(\.objectID) == ["store-tests", "store-tests"])
            #expect(selfRemoval.last?.errorCode == "invalid-argument")
            #expect(try t.vault.administration.principal(id: "store-tests")?.roles == [.admin, .auditor, .service])

            // The admin removes sam, who is then refused what support could do before.
            let removal = try await t.recordsAdded { try await t.vault.removePrincipal("sam", context: .admin) }
            #expect(removal.map(\.outcome) == [.allowed])
            #expect(try t.vault.administration.principal(id: "sam") == nil)
            denials.append(try await expectDenied(t, actor: "sam", action: .list, dataClass: .metadata, purpose: .support, tenant: "acme") {
                _ = try await t.vault.list(tenant: "acme", context: accessContext("sam", .support))
            })
            await expectCofferError(.notFound) { try await t.vault.removePrincipal("sam", context: .admin) }
            await expectCofferError(.alreadyExists) { try await t.vault.addPrincipal("svc", roles: [.service], context: .admin) }
            // Malformed requests are refused before policy and not recorded.
            let size = try t.auditLogSize()
            await expectCofferError(.invalidArgument) { try await t.vault.addPrincipal("a,b", roles: [.service], context: .admin) }
            await expectCofferError(.invalidArgument) { try await t.vault.addPrincipal("x", roles: [], context: .admin) }
            #expect(try t.auditLogSize() == size)
            try await expectDenialsQueried(t, denials)
        }
    }
}
