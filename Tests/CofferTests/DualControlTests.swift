import CofferCrypto
import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferScaleOutTestSupport

@Suite("Dual control for principals that open PII, erase evidence or approve others")
struct DualControlTests {
    @Test("the first operator acts alone; once two admins exist, a privacy officer waits for a second, different admin")
    func secondAdminApproves() async throws {
        try await withTestVault { t in
            // One unlimited admin: it acts alone (how a fresh vault starts).
            #expect(try await t.vault.addPrincipal("adm2", roles: [.admin], context: .admin) == nil)
            let adm2 = accessContext("adm2", .administration)
            // Two now: a privacy officer is only requested.
            let pending = try #require(try await t.vault.addPrincipal("po", roles: [.privacyOfficer], context: adm2))
            #expect(pending.principal == "po" && pending.kind == .principalAdd && pending.requestedBy == "adm2" && pending.changeID.hasPrefix("change_"))
            #expect(try await t.vault.principals(context: .admin).map(\.id).contains("po") == false)
            #expect(try await t.vault.pendingChanges(context: .admin) == [pending])
            // Not by the admin who asked.
            try await expectDenied(t, actor: "adm2", action: .principalAdmin, dataClass: .administration, purpose: .administration) {
                try await t.vault.approveChange(pending.changeID, context: adm2)
            }
            // A role without those powers needs no second admin.
            #expect(try await t.vault.addPrincipal("svc", roles: [.service], context: adm2) == nil)
            try await t.vault.approveChange(pending.changeID, context: .admin)
            let po = try #require(try await t.vault.principals(context: .admin).first { $0.id == "po" })
            #expect(po.roles == [.privacyOfficer] && po.createdBy == "adm2")
            #expect(try await t.vault.pendingChanges(context: .admin).isEmpty)
            await expectCofferError(.notFound) { try await t.vault.approveChange(pending.changeID, context: .admin) }
            // Both steps are in the log.
            let records = try t.auditLogRecords().filter { $0.action == "principal-admin" && $0.objectID == "po" && $0.outcome == .allowed }
            #expect(records.map(\.reason) == ["pending-approval=\(pending.changeID)", "approved=\(pending.changeID)"])
            #expect(records.map(\.actor) == ["adm2", "store-tests"])
        }
    }

    /// A vault with two admins without a tenant limit, `store-tests` and `adm2` (the second one
    /// registered by the first operator alone), so dual control is on.
    private func withTwoAdmins(_ body: (TestVault) async throws -> Void) async throws {
        try await withTestVault { t in
            #expect(try await t.vault.addPrincipal("adm2", roles: [.admin], context: .admin) == nil)
            try await body(t)
        }
    }

    private let adm2 = accessContext("adm2", .administration)
    private let adm3 = accessContext("adm3", .administration)

    /// The principal `id` as registered, or nil.
    private func principal(_ t: TestVault, _ id: PrincipalID) throws -> Principal? {
        try t.vault.administration.principal(id: id)
    }

    @Test("widening a principal's roles or tenants waits for a second admin; the change is carried out on approval")
    func updateWidening() async throws {
        try await withTwoAdmins { t in
            #expect(try await t.vault.addPrincipal("svc", roles: [.service], tenants: ["acme"], context: .admin) == nil)
            // A role that opens PII, erases evidence or approves others.
            let auditor = try #require(try await t.vault.updatePrincipal("svc", roles: [.service, .auditor], tenants: ["acme"], context: .admin))
            #expect(auditor.kind == .principalUpdate && auditor.principal == "svc" && auditor.roles == [.auditor, .service])
            #expect(auditor.tenants == ["acme"] && auditor.requestedBy == "store-tests")
            // A wider scope, to another tenant or to no limit, whatever the roles.
            let wider = try #require(try await t.vault.updatePrincipal("svc", roles: [.service], tenants: ["acme", "globex"], context: .admin))
            let unlimited = try #require(try await t.vault.updatePrincipal("svc", roles: [.service], tenants: nil, context: .admin))
            #expect(unlimited.tenants == nil && unlimited.roles == [.service])
            #expect(try principal(t, "svc")?.entitlement == Entitlement(roles: [.service], tenants: ["acme"]))
            #expect(Set(try await t.vault.pendingChanges(context: .admin).map(\.changeID)) == [auditor.changeID, wider.changeID, unlimited.changeID])

            let approved = try await t.vault.approveChange(auditor.changeID, context: adm2)
            #expect(approved.change == auditor && approved.prunedRecords == nil)
            #expect(try principal(t, "svc")?.entitlement == Entitlement(roles: [.auditor, .service], tenants: ["acme"]))
            try await t.vault.approveChange(unlimited.changeID, context: adm2)
            #expect(try principal(t, "svc")?.tenants == nil)
            let records = try t.auditLogRecords().filter { $0.objectID == "svc" && $0.outcome == .allowed && $0.reason != nil }
            #expect(records.map(\.reason) == [auditor, wider, unlimited].map { "pending-approval=\($0.changeID)" }
                        + ["approved=\(auditor.changeID)", "approved=\(unlimited.changeID)"])
        }
    }

    @Test("narrowing goes through alone, and so does a change that leaves two unlimited admins")
    func narrowingAlone() async throws {
        try await withTwoAdmins { t in
            try await t.vault.addPrincipal("svc", roles: [.service, .support], context: .admin)
            #expect(try await t.vault.updatePrincipal("svc", roles: [.service], tenants: ["acme"], context: .admin) == nil)
            #expect(try principal(t, "svc")?.entitlement == Entitlement(roles: [.service], tenants: ["acme"]))
            // Roles that need no second admin may be added alone, within the same tenants.
            #expect(try await t.vault.updatePrincipal("svc", roles: [.service, .reporting], tenants: ["acme"], context: .admin) == nil)
            // With three unlimited admins, narrowing or removing one still leaves two.
            let third = try #require(try await t.vault.addPrincipal("adm3", roles: [.admin], context: .admin))
            try await t.vault.approveChange(third.changeID, context: adm2)
            #expect(try await t.vault.updatePrincipal("adm3", roles: [.admin], tenants: ["acme"], context: .admin) == nil)
            #expect(try principal(t, "adm3")?.tenants == ["acme"])
            #expect(try await t.vault.pendingChanges(context: .admin).isEmpty)
        }
    }

    @Test("with only two unlimited admins, removing or narrowing one of them waits for another admin")
    func lastTwoAdmins() async throws {
        try await withTwoAdmins { t in
            let removal = try #require(try await t.vault.removePrincipal("adm2", context: .admin))
            #expect(removal.kind == .principalRemove && removal.principal == "adm2" && removal.roles == nil)
            let scoped = try #require(try await t.vault.updatePrincipal("adm2", roles: [.admin], tenants: ["acme"], context: .admin))
            let demoted = try #require(try await t.vault.updatePrincipal("adm2", roles: [.auditor], tenants: nil, context: .admin))
            #expect(demoted.kind == .principalUpdate)
            #expect(try principal(t, "adm2")?.entitlement == Entitlement(roles: [.admin], tenants: nil))
            // The other way round too: adm2 cannot shed store-tests alone.
            #expect(try await t.vault.removePrincipal("store-tests", context: adm2) != nil)
            #expect(try principal(t, "store-tests") != nil)

            // A third admin (itself under dual control) approves the removal.
            let third = try #require(try await t.vault.addPrincipal("adm3", roles: [.admin], context: .admin))
            try await t.vault.approveChange(third.changeID, context: adm2)
            let approved = try await t.vault.approveChange(removal.changeID, context: adm3)
            #expect(approved.change.kind == .principalRemove)
            #expect(try principal(t, "adm2") == nil)
            // The changes to the principal now gone cannot be carried out.
            await expectCofferError(.notFound) { try await t.vault.approveChange(scoped.changeID, context: adm3) }
            await expectCofferError(.notFound) { try await t.vault.approveChange(demoted.changeID, context: adm3) }
        }
    }

    @Test("changes made alone never end dual control, even two made at once")
    func concurrentRemovals() async throws {
        try await withTwoAdmins { t in
            let third = try #require(try await t.vault.addPrincipal("adm3", roles: [.admin], context: .admin))
            try await t.vault.approveChange(third.changeID, context: adm2)
            // Each removal alone leaves two; both together would leave one.
            let outcomes = await withTaskGroup(of: String.self) { group in
                for id in ["adm2", "adm3"] {
                    group.addTask {
                        do { return try await t.vault.removePrincipal(PrincipalID(id), context: .admin) == nil ? "removed" : "pending" } catch {
                            return (error as? CofferError)?.code.description ?? "\(error)"
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.sorted() == ["pending", "removed"] || outcomes.sorted() == ["access-denied", "removed"], "\(outcomes)")
            let admins = try t.vault.administration.store.allPrincipals().filter(\.entitlement.isUnlimitedAdmin)
            #expect(admins.count == 2, "\(admins.map(\.id))")
            // The store itself refuses a change made alone that would end dual control.
            let other = try #require(admins.map(\.id).first { $0 != "store-tests" })
            await expectCofferError(.accessDenied) { try await t.vault.administration.removePrincipal(other, by: "store-tests") }
            await expectCofferError(.accessDenied) {
                try await t.vault.administration.updatePrincipal(other, to: Entitlement(roles: [.admin], tenants: ["acme"]), by: "store-tests")
            }
        }
    }

    @Test("an approver is an unlimited admin other than the one who asked and the principal the change is about")
    func approverIsNotTarget() async throws {
        try await withTwoAdmins { t in
            let scopedAdmin = try #require(try await t.vault.addPrincipal("acme-admin", roles: [.admin], tenants: ["acme"], context: .admin))
            try await t.vault.approveChange(scopedAdmin.changeID, context: adm2)
            let widen = try #require(try await t.vault.updatePrincipal("adm2", roles: [.admin, .privacyOfficer], tenants: nil, context: .admin))
            // Not the principal itself, though it did not ask.
            try await expectDenied(t, actor: "adm2", action: .principalAdmin, dataClass: .administration, purpose: .administration) {
                try await t.vault.approveChange(widen.changeID, context: adm2)
            }
            // Not the requester.
            try await expectDenied(t, actor: "store-tests", action: .principalAdmin, dataClass: .administration, purpose: .administration) {
                try await t.vault.approveChange(widen.changeID, context: .admin)
            }
            // Not a tenant-limited admin.
            try await expectDenied(t, actor: "acme-admin", action: .principalAdmin, dataClass: .administration, purpose: .administration) {
                try await t.vault.approveChange(widen.changeID, context: accessContext("acme-admin", .administration))
            }
            #expect(try principal(t, "adm2")?.roles == [.admin])
            #expect(try await t.vault.pendingChanges(context: .admin).map(\.changeID) == [widen.changeID])
            // The tenant-limited admin sees no change beyond its tenants.
            #expect(try await t.vault.pendingChanges(context: accessContext("acme-admin", .administration)).isEmpty)
        }
    }

    @Test("nobody changes a principal to roles or tenants beyond their own")
    func updateNoEscalation() async throws {
        try await withTestVault(tenants: ["acme", "globex"]) { t in
            try await t.vault.addPrincipal("acme-admin", roles: [.admin, .support], tenants: ["acme"], context: .admin)
            try await t.vault.addPrincipal("acme-svc", roles: [.service], tenants: ["acme"], context: .admin)
            try await t.vault.addPrincipal("globex-svc", roles: [.service], tenants: ["globex"], context: .admin)
            let scoped = accessContext("acme-admin", .administration)
            for (id, roles, tenants) in [("acme-svc", [Role.service, .reporting], [TenantID("acme")]), ("acme-svc", [.service], nil),
                                         ("acme-svc", [.service], ["acme", "globex"]), ("globex-svc", [.service], ["globex"]),
                                         ("acme-admin", [.admin, .support, .privacyOfficer], ["acme"])] as [(String, [Role], [TenantID]?)] {
                try await expectDenied(t, actor: "acme-admin", action: .principalAdmin, dataClass: .administration, purpose: .administration) {
                    try await t.vault.updatePrincipal(PrincipalID(id), roles: roles, tenants: tenants, context: scoped)
                }
            }
            // Within its roles and tenants it may; removing a role it lacks is narrowing.
            #expect(try await t.vault.updatePrincipal("acme-svc", roles: [.service, .support], tenants: ["acme"], context: scoped) == nil)
            #expect(try await t.vault.updatePrincipal("acme-svc", roles: [.support], tenants: ["acme"], context: scoped) == nil)
            await expectCofferError(.notFound) { try await t.vault.updatePrincipal("nobody", roles: [.support], tenants: ["acme"], context: scoped) }
        }
    }

    @Test("narrowing a principal's tenants revokes its grants on the others")
    func narrowingRevokesGrants() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let expires = t.vault.administration.clock.now() + 86_400_000
            let grant = try await t.vault.issueGrant(to: PIIPrincipal.support, tenant: "globex", purpose: .support, expiresAt: expires,
                                                     reason: "ticket", context: .piiOfficer)
            try await t.vault.updatePrincipal(PIIPrincipal.support, roles: [.support], tenants: ["acme"], context: .admin)
            #expect(try await t.vault.administration.grant(id: grant.id)?.revokedBy == "store-tests")
        }
    }

    // A migration of SQLite files: the embedded engine's only.
    @Test("pending principals of a v4 vault are pending changes after the v5-pending-changes migration, and can be approved",
          .enabled(if: !ScaleOutTestServers.engineIsScaleOut))
    func migratedPendingPrincipals() async throws {
        try await withTestVault { t in
            try await t.vault.addPrincipal("adm2", roles: [.admin], context: .admin)
            try t.vault.close()
            // The queue as a v4 vault kept it.
            let control = try DatabaseQueue(path: t.directory.appendingPathComponent(Vault.FileName.control).path)
            try await control.write { db in
                try db.execute(sql: """
                    DROP TABLE pending_change;
                    DELETE FROM grdb_migrations WHERE identifier = 'v5-pending-changes';
                    CREATE TABLE pending_principal (change_id TEXT PRIMARY KEY, id TEXT NOT NULL, roles TEXT NOT NULL, tenants TEXT,
                        requested_by TEXT NOT NULL, requested_at INTEGER NOT NULL);
                    INSERT INTO pending_principal VALUES ('change_0123456789abcdef0123456789abcdef', 'po', 'privacy-officer', 'acme', 'adm2', 1);
                    """)
            }
            try control.close()
            let vault = try await t.reopen()
            defer { try? vault.close() }
            let pending = try await vault.pendingChanges(context: .admin)
            #expect(pending == [PendingChange(changeID: "change_0123456789abcdef0123456789abcdef", kind: .principalAdd, principal: "po",
                                              roles: [.privacyOfficer], tenants: ["acme"], pruneBefore: nil, requestedBy: "adm2", requestedAt: 1)])
            try await vault.approveChange("change_0123456789abcdef0123456789abcdef", context: .admin)
            #expect(try vault.administration.principal(id: "po")?.entitlement == Entitlement(roles: [.privacyOfficer], tenants: ["acme"]))
        }
    }
}

@Suite("coffer principal pending / approve", .serialized)
struct DualControlCLITests {
    @Test("principal add waits for a second admin; approve by the requester is refused, by another registers it")
    func cli() async throws {
        try await withAuditCLI { cli in
            #expect(try cli.spawn(["principal", "add", "adm2", "--role", "admin"]).status == 0)
            let asked = try cli.spawn(["principal", "add", "po", "--role", "privacy-officer", "--actor", "adm2"])
            #expect(asked.status == 0 && asked.output.contains("awaits a second admin's approval"), "\(asked.output) \(asked.error)")
            let change = try #require(asked.output.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
            let pending = try cli.spawn(["principal", "pending", "--json"])
            #expect(pending.status == 0 && pending.output.contains(change), "\(pending.output)")
            let selfApproval = try cli.spawn(["principal", "approve", change, "--actor", "adm2"])
            #expect(selfApproval.status != 0 && selfApproval.error.contains("[access-denied]"), "\(selfApproval.error)")
            #expect(!(try cli.spawn(["principal", "list"]).output.contains("po ")))
            let approved = try cli.spawn(["principal", "approve", change])
            #expect(approved.status == 0, "\(approved.error)")
            #expect(try cli.spawn(["principal", "list"]).output.contains("privacy-officer"))
        }
    }

    /// The change id a command printed after "coffer principal approve".
    private func changeID(_ output: String) throws -> String {
        let words = output.split(whereSeparator: \.isWhitespace)
        return try #require(words.last.map(String.init), "\(output)")
    }

    @Test("principal update keeps what is not given, goes through alone when narrowing, and waits for a second admin when widening")
    func cliUpdate() async throws {
        try await withAuditCLI { cli in
            #expect(try cli.spawn(["principal", "add", "sam", "--role", "support", "--tenant", "acme"]).status == 0)
            let roles = try cli.spawn(["principal", "update", "sam", "--role", "support", "--role", "reporting"])
            #expect(roles.status == 0 && roles.output.contains("updated principal sam: roles reporting, support; tenants acme"),
                    "\(roles.output) \(roles.error)")
            let both = try cli.spawn(["principal", "update", "sam", "--tenant", "acme", "--all-tenants"])
            #expect(both.status != 0 && both.error.contains("not both"), "\(both.error)")
            #expect(try cli.spawn(["principal", "update", "sam"]).status != 0)

            #expect(try cli.spawn(["principal", "add", "adm2", "--role", "admin"]).status == 0)
            let wider = try cli.spawn(["principal", "update", "sam", "--all-tenants"])
            #expect(wider.status == 0 && wider.output.contains("awaits a second admin's approval"), "\(wider.output) \(wider.error)")
            let change = try changeID(wider.output)
            let pending = try cli.spawn(["principal", "pending"])
            #expect(pending.output.contains(change) && pending.output.contains("principal-update"), "\(pending.output)")
            #expect(try cli.spawn(["principal", "list"]).output.contains("acme"))
            let approved = try cli.spawn(["principal", "approve", change, "--actor", "adm2"])
            #expect(approved.status == 0 && approved.output.contains("(principal-update): principal sam"), "\(approved.output) \(approved.error)")
            let list = try cli.spawn(["principal", "list", "--json"])
            #expect(list.status == 0 && !list.output.contains("\"acme\""), "\(list.output)")
            // Narrowing the other unlimited admin would leave one: it waits too.
            let narrowed = try cli.spawn(["principal", "update", "adm2", "--tenant", "acme"])
            #expect(narrowed.status == 0 && narrowed.output.contains("awaits a second admin's approval"), "\(narrowed.output)")
            let removal = try cli.spawn(["principal", "remove", "adm2"])
            #expect(removal.status == 0 && removal.output.contains("the removal of principal adm2 awaits"), "\(removal.output)")
        }
    }

    @Test("audit prune with two unlimited admins waits; principal approve by the other admin prunes")
    func cliPrune() async throws {
        try await withAuditCLI { cli in
            #expect(try cli.spawn(["principal", "add", "adm2", "--role", "admin"]).status == 0)
            let asked = try cli.spawn(["audit", "prune", "--before", utcDate(daysFromToday: -700)])
            #expect(asked.status == 0 && asked.output.contains("the prune before") && asked.output.contains("awaits a second admin's approval"),
                    "\(asked.output) \(asked.error)")
            let change = try changeID(asked.output)
            let pending = try cli.spawn(["principal", "pending", "--json"])
            #expect(pending.output.contains(change) && pending.output.contains("\"audit-prune\"") && pending.output.contains("pruneBefore"),
                    "\(pending.output)")
            let selfApproval = try cli.spawn(["principal", "approve", change])
            #expect(selfApproval.status != 0 && selfApproval.error.contains("[access-denied]"), "\(selfApproval.error)")
            let approved = try cli.spawn(["principal", "approve", change, "--actor", "adm2"])
            #expect(approved.status == 0 && approved.output.contains("(audit-prune): pruned 0 records"), "\(approved.output) \(approved.error)")
            #expect(try cli.spawn(["principal", "pending"]).output.contains(change) == false)
            #expect(try cli.spawn(["audit", "verify"]).status == 0)
            let reasons = try cli.auditDatabase().read { db in
                try String.fetchAll(db, sql: "SELECT reason FROM record WHERE action = 'purge' AND outcome = 'allowed' ORDER BY seq")
            }
            #expect(reasons.count == 2 && reasons.last?.hasSuffix(" approved=\(change)") == true, "\(reasons)")
        }
    }
}
