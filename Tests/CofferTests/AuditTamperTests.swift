import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto
import CofferSQL

/// One edit of one column of record 5 (a refusal: nobody reading acme's object).
struct FieldEdit: Sendable, CustomTestStringConvertible {
    let name: String
    let sql: String
    var testDescription: String { name }

    static let all: [FieldEdit] = [
        FieldEdit(name: "actor", sql: "UPDATE record SET actor = 'store-tests' WHERE seq = 5"),
        FieldEdit(name: "outcome denied to allowed", sql: "UPDATE record SET outcome = 'allowed' WHERE seq = 5"),
        FieldEdit(name: "outcome to an unknown value", sql: "UPDATE record SET outcome = 'approved' WHERE seq = 5"),
        FieldEdit(name: "time by 1 ms", sql: "UPDATE record SET time = time + 1 WHERE seq = 5"),
        FieldEdit(name: "purpose", sql: "UPDATE record SET purpose = 'legal' WHERE seq = 5"),
        FieldEdit(name: "error code removed", sql: "UPDATE record SET error_code = NULL WHERE seq = 5"),
        FieldEdit(name: "tenant", sql: "UPDATE record SET tenant = 'globex' WHERE seq = 5"),
        FieldEdit(name: "bytes added", sql: "UPDATE record SET bytes = 0 WHERE seq = 5"),
        FieldEdit(name: "reason", sql: "UPDATE record SET reason = reason || '.' WHERE seq = 5"),
        FieldEdit(name: "action", sql: "UPDATE record SET action = 'stat' WHERE seq = 5"),
        FieldEdit(name: "object id", sql: "UPDATE record SET object_id = 'obj_00000000000000000000000000000000' WHERE seq = 5"),
    ]
}

/// A log of exactly 12 records: 1 tenant acme, 2 put, 3 read, 4 stat, 5 a refused read by
/// `nobody`, 6 list, 7...12 tenant listings by the administrator.
private func withLog(_ body: (TestVault) async throws -> Void) async throws {
    try await withTestVault { t in
        let (id, _) = try await t.vault.put(tenant: "acme", kind: .config, name: "c", bytes: Array("content".utf8), context: .test)
        _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test)
        _ = try await t.vault.stat(tenant: "acme", objectID: id, context: .test)
        await expectCofferError(.accessDenied) { _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: accessContext("nobody", .support)) }
        _ = try await t.vault.list(tenant: "acme", context: .test)
        try await t.growAuditLog(to: 12)
        #expect(try t.auditRecord(5)?.outcome == .denied)
        try #require(try t.vault.accessLog.log.verify().ok)
        try await body(t)
    }
}

/// Expects the verification to fail at `record`.
private func expectBad(_ result: AuditVerification, at record: Int64, _ problem: String? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!result.ok, sourceLocation: sourceLocation)
    #expect(result.firstBadRecord == record, "\(result.problem ?? "")", sourceLocation: sourceLocation)
    if let problem {
        #expect(result.problem?.contains(problem) == true, "\(result.problem ?? "no problem")", sourceLocation: sourceLocation)
    }
}

@Suite("Tampering with the access log")
struct AuditTamperTests {
    @Test("editing one field of a record is caught at that record", arguments: FieldEdit.all)
    func editField(_ edit: FieldEdit) async throws {
        try await withLog { t in
            try t.tamper { db in
                let changed = try db.execute(sql: edit.sql)
                #expect(changed == 1)
            }
            expectBad(try await t.verifyLog(), at: 5, "record 5")
        }
    }

    @Test("editing the first, a middle or the last record is caught at it", arguments: [Int64(1), 6, 12])
    func editRecord(_ k: Int64) async throws {
        try await withLog { t in
            try t.tamper { db in try db.execute(sql: "UPDATE record SET actor = 'mallory' WHERE seq = ?", arguments: [k]) }
            expectBad(try await t.verifyLog(), at: k, "altered")
        }
    }

    @Test("deleting a record (its row and its leaf) is caught at it", arguments: [Int64(1), 5, 12])
    func deleteRecord(_ k: Int64) async throws {
        try await withLog { t in
            try t.tamper { db in
                try db.execute(sql: "DELETE FROM record WHERE seq = ?", arguments: [k])
                try db.execute(sql: "DELETE FROM leaf WHERE seq = ?", arguments: [k])
            }
            expectBad(try await t.verifyLog(), at: k, "record \(k) is missing")
        }
    }

    @Test("deleting only a record's row is caught at it", arguments: [Int64(1), 5, 12])
    func deleteRecordRow(_ k: Int64) async throws {
        try await withLog { t in
            try t.tamper { db in try db.execute(sql: "DELETE FROM record WHERE seq = ?", arguments: [k]) }
            expectBad(try await t.verifyLog(), at: k, "record \(k) is missing")
        }
    }

    @Test("swapping two records (rows, leaves and MACs) is caught at the first")
    func swap() async throws {
        try await withLog { t in
            try t.tamper { db in
                for table in ["record", "leaf"] {
                    try db.execute(sql: "UPDATE \(table) SET seq = -1 WHERE seq = 5")
                    try db.execute(sql: "UPDATE \(table) SET seq = 5 WHERE seq = 6")
                    try db.execute(sql: "UPDATE \(table) SET seq = 6 WHERE seq = -1")
                }
            }
            #expect(try t.auditRecord(5)?.action == "list")
            expectBad(try await t.verifyLog(), at: 5, "record 5")
        }
    }

    @Test("swapping two records and recomputing their leaf hashes is caught by the MAC chain")
    func swapWithLeaves() async throws {
        try await withLog { t in
            try t.tamper { db in
                for table in ["record", "leaf"] {
                    try db.execute(sql: "UPDATE \(table) SET seq = -1 WHERE seq = 5")
                    try db.execute(sql: "UPDATE \(table) SET seq = 5 WHERE seq = 6")
                    try db.execute(sql: "UPDATE \(table) SET seq = 6 WHERE seq = -1")
                }
                try recomputeLeaf(db, 5)
                try recomputeLeaf(db, 6)
            }
            expectBad(try await t.verifyLog(), at: 5, "not authentic")
        }
    }

    @Test("a forged record with a correct leaf hash but an invented MAC is caught at it")
    func forgedRecord() async throws {
        try await withLog { t in
            let model = try #require(try t.auditRecord(6))
            let forged = copy(model, sequence: 13, actor: "store-tests", time: nowMilliseconds())
            try t.tamper { db in
                try insertRecordRow(db, forged)
                let mac = try SecureRandom.bytes(32)
                try db.execute(sql: "INSERT INTO leaf (seq, hash, mac) VALUES (?, ?, ?)",
                               arguments: [13, Data(MerkleTree.leafHash(forged.canonicalBytes)), Data(mac)])
                // The state row follows, so the log keeps appending after the forgery.
                try rewindLogState(db, to: 13)
            }
            let result = try await t.verifyLog()
            expectBad(result, at: 13, "not authentic")
            // Nothing before it is blamed; the verification's own record (14) chains onto the forgery.
            #expect(result.recordsChecked == 13)
            #expect(try t.auditLogSize() == 14)
        }
    }

    @Test("a record row without a leaf is caught at it; at the next sequence number it also stops the log")
    func recordWithoutLeaf() async throws {
        try await withLog { t in
            let model = try #require(try t.auditRecord(7))
            // Far ahead: the log appends below it, and verification names it.
            try t.tamper { db in try insertRecordRow(db, copy(model, sequence: 20)) }
            expectBad(try await t.verifyLog(), at: 20, "has no leaf")
        }
        try await withLog { t in
            let model = try #require(try t.auditRecord(7))
            try t.tamper { db in try insertRecordRow(db, copy(model, sequence: 13)) }
            // The log cannot append record 13 over it, so every access fails closed, even the verification...
            await expectCofferError(.auditUnavailable) { _ = try await t.verifyLog() }
            await expectCofferError(.auditUnavailable) { _ = try await t.vault.tenants(context: .admin) }
            // ...and the verification itself (without recording) names it.
            expectBad(try t.vault.accessLog.log.verify(), at: 13, "has no leaf")
        }
    }

    @Test("editing the state row alone stops the log, and verification names the first record it disowns")
    func editState() async throws {
        try await withLog { t in
            try t.tamper { db in try db.execute(sql: "UPDATE log_state SET tree_size = 20 WHERE id = 1") }
            // The log does not append on an inconsistent state: every access fails closed.
            await expectCofferError(.tamperDetected) { _ = try await t.verifyLog() }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.tenants(context: .admin) }
            expectBad(try t.vault.accessLog.log.verify(), at: 13, "the log's state (20 records) does not match its records (12)")
        }
    }

    @Test("editing or forging a stored checkpoint is caught at its size",
          arguments: ["UPDATE checkpoint SET root = zeroblob(32) WHERE tree_size = 13",
                      "UPDATE checkpoint SET signature = zeroblob(64) WHERE tree_size = 13",
                      "UPDATE checkpoint SET time = time + 1 WHERE tree_size = 13",
                      "INSERT INTO checkpoint SELECT 5, root, time, key_id, public_key, signature, frontier, last_mac FROM checkpoint WHERE tree_size = 13"])
    func editCheckpoint(_ sql: String) async throws {
        try await withLog { t in
            #expect(try await t.vault.auditCheckpoint(context: .testAuditor).treeSize == 13)
            try t.tamper { db in
                let changed = try db.execute(sql: portableBlobs(sql, db.engine))
                #expect(changed == 1)
            }
            let expected: Int64 = sql.hasPrefix("INSERT") ? 5 : 13
            expectBad(try await t.verifyLog(), at: expected, "the signed checkpoint at size \(expected) does not match the log")
        }
    }

    @Test("deleting the last records and rewinding the state consistently goes unseen without a checkpoint")
    func rewindWithoutCheckpoint() async throws {
        try await withLog { t in
            try t.tamper { db in
                try deleteRecords(db, from: 10)
                try rewindLogState(db, to: 9)
            }
            // This is only caught by a checkpoint (stored in the log, or better exported and kept
            // elsewhere): the MAC chain and the Merkle tree of records 1...9 are intact, so the log
            // is indistinguishable from one that never had records 10...12.
            #expect(try t.vault.accessLog.log.verify().ok)
            let result = try await t.verifyLog()
            #expect(result.ok)
            #expect(result.treeSize == 10)
            #expect(try t.auditRecord(10)?.action == "audit-read")
        }
    }

    @Test("a rewind under a stored manual checkpoint is caught")
    func rewindUnderManualCheckpoint() async throws {
        try await withLog { t in
            let checkpoint = try await t.vault.auditCheckpoint(context: .testAuditor)
            #expect(checkpoint.treeSize == 13)
            try await t.growAuditLog(to: 16)
            try t.tamper { db in
                try deleteRecords(db, from: 11)
                try rewindLogState(db, to: 10)
            }
            // Checked as it stands, the first record missing is 11.
            expectBad(try t.vault.accessLog.log.verify(), at: 11, "covers 13 records but the log holds 10")
            // Through the API the verification first records itself, as the new record 11; the
            // checkpoint then proves the log lacks what it signed from 12 on.
            expectBad(try await t.verifyLog(), at: 12, "covers 13 records but the log holds 11")
            // Each further access takes the next number (12 for this one) and moves the blame with it.
            expectBad(try await t.verifyLog(extending: checkpoint), at: 13, "covers 13 records but the log holds 12")
            // Once the log has regrown to the checkpoint's size, the root no longer matches.
            expectBad(try await t.verifyLog(), at: 13, "the signed checkpoint at size 13 does not match")
        }
    }

    @Test("a rewind hidden from the stored checkpoints too is caught by the exported checkpoint")
    func rewindUnderExportedCheckpoint() async throws {
        try await withLog { t in
            let checkpoint = try await t.vault.auditCheckpoint(context: .testAuditor)
            try await t.growAuditLog(to: 16)
            try t.tamper { db in
                try deleteRecords(db, from: 11)
                try rewindLogState(db, to: 10)
                try db.execute(sql: "DELETE FROM checkpoint")
            }
            // Only the checkpoint kept elsewhere can tell.
            #expect(try await t.verifyLog().ok)  // record 11
            let result = try await t.verifyLog(extending: checkpoint)  // record 12
            expectBad(result, at: 13, "covers 13 records but the log holds only 12")
        }
    }

    @Test("a rewind under an automatic checkpoint is caught")
    func rewindUnderAutomaticCheckpoint() async throws {
        try await withTestVault { t in
            let vault = t.vault
            while try t.storedCheckpointSizes().isEmpty {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<64 { group.addTask { _ = try await vault.tenants(context: .admin) } }
                    try await group.waitForAll()
                }
            }
            let sizes = try t.storedCheckpointSizes()
            #expect(sizes.count == 1)
            let c = try #require(sizes.first)
            #expect(c >= AuditLog.checkpointInterval)
            #expect(c < AuditLog.checkpointInterval + 64)
            #expect(try await t.verifyLog().checkpointsChecked == 1)
            try t.tamper { db in
                try deleteRecords(db, from: c - 2)
                try rewindLogState(db, to: c - 3)
            }
            expectBad(try t.vault.accessLog.log.verify(), at: c - 2, "a signed checkpoint covers \(c) records")
            expectBad(try await t.verifyLog(), at: c - 1, "a signed checkpoint covers \(c) records")
        }
    }

    @Test("an edited record with a recomputed leaf hash fails the MAC chain and the exported checkpoint")
    func rewriteWithLeaf() async throws {
        try await withLog { t in
            let checkpoint = try await t.vault.auditCheckpoint(context: .testAuditor)
            try await t.growAuditLog(to: 15)
            try t.tamper { db in
                try db.execute(sql: "UPDATE record SET outcome = 'allowed', error_code = NULL, reason = NULL WHERE seq = 5")
                try recomputeLeaf(db, 5)
            }
            expectBad(try await t.verifyLog(extending: checkpoint), at: 5, "record 5 is not authentic")
            expectBad(try await t.verifyLog(), at: 5, "record 5 is not authentic")
        }
    }

    @Test("history rewritten with the MAC key (chain and state recomputed, stored checkpoints dropped) fails only the exported checkpoint")
    func rewriteWithKey() async throws {
        try await withLog { t in
            let checkpoint = try await t.vault.auditCheckpoint(context: .testAuditor)
            #expect(checkpoint.treeSize == 13)
            try await t.growAuditLog(to: 15)
            let log = t.vault.accessLog.log
            try t.tamper { db in
                try db.execute(sql: "UPDATE record SET outcome = 'allowed', error_code = NULL, reason = NULL WHERE seq = 5")
                try recomputeLeaf(db, 5)
                try rechainMACs(db, log: log, from: 5)
                try db.execute(sql: "DELETE FROM checkpoint")
            }
            #expect(try await t.verifyLog().ok)  // self-consistent: record 16
            let result = try await t.verifyLog(extending: checkpoint)
            expectBad(result, at: 13, "does not extend the checkpoint")
            #expect(result.treeSize == 17)
        }
    }

    @Test("pruning deletes old record rows; the log still verifies, and later deletions are still caught")
    func prune() async throws {
        try await withTestVault { t in
            try await t.vault.addPrincipal("aud", roles: [.auditor], context: .admin)
            try await t.growAuditLog(to: 8)
            try await Task.sleep(for: .milliseconds(20))
            let boundaryTime = nowMilliseconds()
            t.vault.administration.clock.advance(by: Int64(Vault.defaultAuditRetentionDays + 1) * 86_400_000)  // past the minimum retention
            try await Task.sleep(for: .milliseconds(20))
            try await t.growAuditLog(to: 12)
            let rows: () throws -> Int = { try t.vault.accessLog.log.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM record") ?? -1 } }

            // Only an admin acting for administration may prune.
            try await expectDenied(t, actor: "store-tests", action: .purge, dataClass: .auditLog, purpose: .audit) {
                _ = try await t.vault.pruneAuditLog(before: boundaryTime, context: .testAuditor)
            }
            try await expectDenied(t, actor: "aud", action: .purge, dataClass: .auditLog, purpose: .administration) {
                _ = try await t.vault.pruneAuditLog(before: boundaryTime, context: accessContext("aud", .administration))
            }
            #expect(try rows() == 14)

            let pruned = try await t.vault.pruneAuditLog(before: boundaryTime, context: .admin)
            #expect(pruned == .pruned(records: 8))
            let purge = try #require(try t.auditRecord(15))
            #expect(purge.action == "purge")
            #expect(purge.dataClass == "audit-log")
            #expect(purge.role == "admin")
            #expect(purge.outcome == .allowed)
            #expect(purge.reason == "pruned-before=9")
            let remaining = try await t.vault.accessLog.log.pool.read { db in try Int64.fetchAll(db, sql: "SELECT seq FROM record ORDER BY seq") }
            #expect(remaining == Array(9...15))
            #expect(try t.leafHashes().count == 15)

            let verification = try await t.verifyLog()
            #expect(verification.ok)
            #expect(verification.prunedBefore == 9)
            #expect(verification.treeSize == 16)
            #expect(verification.recordsChecked == 8)
            // Pruned records are still proven by their leaves.
            #expect(try await t.vault.auditProof(sequence: 3, context: .testAuditor).isValid)
            #expect(try await t.vault.auditRecords(AuditQuery(limit: 1000), context: .testAuditor).map(\.sequence).min() == 9)

            // Pruning again with an earlier time never moves the boundary back.
            #expect(try await t.vault.pruneAuditLog(before: boundaryTime - 60_000, context: .admin) == .pruned(records: 0))
            #expect(try t.auditRecord(19)?.reason == "pruned-before=9")
            let again = try await t.verifyLog()
            #expect(again.ok)
            #expect(again.prunedBefore == 9)
            #expect(again.recordsChecked == 12)  // 9...20

            // A record after the boundary is still protected.
            try t.tamper { db in try db.execute(sql: "DELETE FROM record WHERE seq = 10") }
            expectBad(try await t.verifyLog(), at: 10, "only records before 9 were pruned")
        }
    }

    @Test("after pruning, a record fabricated or a leaf deleted in the pruned range is caught")
    func pruneRangeTampering() async throws {
        try await withTestVault { t in
            try await t.growAuditLog(to: 6)
            try await Task.sleep(for: .milliseconds(20))
            let boundaryTime = nowMilliseconds()
            t.vault.administration.clock.advance(by: Int64(Vault.defaultAuditRetentionDays + 1) * 86_400_000)  // past the minimum retention
            try await Task.sleep(for: .milliseconds(20))
            try await t.growAuditLog(to: 9)
            #expect(try await t.vault.pruneAuditLog(before: boundaryTime, context: .admin) == .pruned(records: 6))
            #expect(try await t.verifyLog().ok)
            let model = try #require(try t.auditRecord(8))
            try t.tamper { db in try insertRecordRow(db, copy(model, sequence: 4)) }
            expectBad(try await t.verifyLog(), at: 4, "altered")
            try t.tamper { db in try db.execute(sql: "DELETE FROM record WHERE seq = 4") }
            #expect(try await t.verifyLog().ok)
            try t.tamper { db in try db.execute(sql: "DELETE FROM leaf WHERE seq = 3") }
            expectBad(try await t.verifyLog(), at: 3, "record 3 is missing")
        }
    }
}

/// `sql` with SQLite's `zeroblob(N)` spelled as PostgreSQL writes N zero bytes, on that engine.
private func portableBlobs(_ sql: String, _ engine: SQLEngine) -> String {
    guard engine == .postgres else { return sql }
    return sql.replacing(/zeroblob\((\d+)\)/) { match in "decode(repeat('00', \(match.1)), 'hex')" }
}
