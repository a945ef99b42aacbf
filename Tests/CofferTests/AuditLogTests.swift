import Foundation
import GRDB
import CofferScaleOutTestSupport
import Testing
@testable import Coffer

@Suite("The access log")
struct AuditLogTests {
    /// Runs `body` and returns the one record it must have added.
    private func oneRecord(_ t: TestVault, sourceLocation: SourceLocation = #_sourceLocation,
                           _ body: () async throws -> Void) async throws -> AuditRecord {
        let start = nowMilliseconds()
        let added = try await t.recordsAdded(by: body)
        let end = nowMilliseconds()
        #expect(added.count == 1, "expected exactly one record, got \(added.map(\.action))", sourceLocation: sourceLocation)
        let record = try #require(added.first, sourceLocation: sourceLocation)
        #expect(record.outcome == .allowed, sourceLocation: sourceLocation)
        #expect(record.errorCode == nil, sourceLocation: sourceLocation)
        #expect(record.reason == nil || record.action == "tenant-create", sourceLocation: sourceLocation)
        #expect((start...end).contains(record.time), sourceLocation: sourceLocation)
        return record
    }

    @Test("every store operation produces exactly one allowed record with the right fields")
    func storeOperations() async throws {
        try await withTestVault { t in
            // The tenant withTestVault registered is record 1.
            #expect(try t.auditLogRecords().map(\.action) == ["tenant-create"])

            let tenant = try await oneRecord(t) { try await t.vault.createTenant("globex", context: .test) }
            #expect(tenant.sequence == 2)
            #expect(tenant.actor == "store-tests")
            #expect(tenant.role == "service")
            #expect(tenant.action == "tenant-create")
            #expect(tenant.dataClass == "administration")
            #expect(tenant.tenant == "globex")
            #expect(tenant.reason == "plan=free", "a tenant's record names its plan")
            #expect(tenant.purpose == "service-operation")
            #expect(tenant.objectID == nil)

            let content = testBytes(10_000, seed: 9)
            let traced = accessContext("store-tests", .serviceOperation, requestID: "req-42", client: "unit-test")
            var writer: ObjectWriter?
            let write = try await oneRecord(t) {
                let w = try await t.vault.makeWriter(tenant: "acme", kind: .testResult, name: "run-1", context: traced)
                try await w.write(content)
                _ = try await w.commit()
                writer = w
            }
            let id = try #require(writer?.objectID)
            #expect(write.sequence == 3)
            #expect(write.action == "write")
            #expect(write.dataClass == "content")
            #expect(write.tenant == "acme")
            #expect(write.objectID == id.rawValue)
            #expect(write.objectVersion == 1)
            #expect(write.objectKind == "test-result")
            #expect(write.role == "service")
            #expect(write.requestID == "req-42")
            #expect(write.client == "unit-test")
            let second = try await oneRecord(t) {
                try await t.vault.put(tenant: "acme", kind: .testResult, name: "run-1", bytes: testBytes(500, seed: 10), context: .test)
            }
            #expect(second.objectID == id.rawValue)
            #expect(second.objectVersion == 2)

            var served = 0
            let read = try await oneRecord(t) {
                try await t.vault.read(tenant: "acme", objectID: id, version: 1, context: .test) { served += $0.count }
            }
            #expect(served == 10_000)
            #expect(read.action == "read")
            #expect(read.dataClass == "content")
            #expect(read.tenant == "acme")
            #expect(read.objectID == id.rawValue)
            #expect(read.objectVersion == 1)
            #expect(read.objectKind == "test-result")
            #expect(read.bytes == 10_000)
            #expect(read.purpose == "service-operation")
            #expect(read.role == "service")
            let latest = try await oneRecord(t) { _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test) }
            #expect(latest.objectVersion == 2)
            #expect(latest.bytes == 500)

            served = 0
            let range = try await oneRecord(t) {
                try await t.vault.read(tenant: "acme", objectID: id, version: 1, range: 10...99, context: .test) { served += $0.count }
            }
            #expect(served == 90)
            #expect(range.bytes == 90)
            #expect(range.objectVersion == 1)
            served = 0
            let tail = try await oneRecord(t) {
                try await t.vault.read(tenant: "acme", objectID: id, version: 1, range: 9_900...1_000_000, context: .test) { served += $0.count }
            }
            #expect(served == 100)
            #expect(tail.bytes == 100)

            let list = try await oneRecord(t) { _ = try await t.vault.list(tenant: "acme", context: .test) }
            #expect(list.action == "list")
            #expect(list.dataClass == "metadata")
            #expect(list.tenant == "acme")
            #expect(list.objectID == nil)
            #expect(list.objectKind == nil)
            let kindList = try await oneRecord(t) {
                _ = try await t.vault.list(tenant: "acme", filter: ObjectFilter(kind: .testResult), context: .test)
            }
            #expect(kindList.objectKind == "test-result")

            let stat = try await oneRecord(t) { _ = try await t.vault.stat(tenant: "acme", objectID: id, context: .test) }
            #expect(stat.action == "stat")
            #expect(stat.dataClass == "metadata")
            #expect(stat.objectID == id.rawValue)
            #expect(stat.tenant == "acme")

            let deleteVersion = try await oneRecord(t) { try await t.vault.delete(tenant: "acme", objectID: id, version: 1, context: .test) }
            #expect(deleteVersion.action == "delete")
            #expect(deleteVersion.dataClass == "content")
            #expect(deleteVersion.objectID == id.rawValue)
            #expect(deleteVersion.objectVersion == 1)
            let delete = try await oneRecord(t) { try await t.vault.delete(tenant: "acme", objectID: id, context: .test) }
            #expect(delete.objectID == id.rawValue)
            #expect(delete.objectVersion == nil)

            let rotate = try await oneRecord(t) { _ = try await t.vault.rotateKeys(to: try t.keyring.addingActiveKey(), context: .admin) }
            #expect(rotate.action == "key-operation")
            #expect(rotate.dataClass == "administration")
            #expect(rotate.purpose == "administration")
            #expect(rotate.role == "admin")
            #expect(rotate.tenant == nil)

            // Sequence numbers run 1...n without gaps, in time order.
            let all = try t.auditLogRecords()
            #expect(all.map(\.sequence) == Array(1...Int64(all.count)))
            #expect(all.count == 14)
            #expect(zip(all, all.dropFirst()).allSatisfy { $0.time <= $1.time })
            #expect(try t.auditLogSize() == 14)
        }
    }

    @Test("a read of a missing object is an allowed record followed by an error record")
    func missingObject() async throws {
        try await withTestVault { t in
            let missing = ObjectID("obj_" + String(repeating: "e", count: 32))
            var served: [UInt8] = []
            let added = try await t.recordsAdded {
                await expectCofferError(.notFound) {
                    try await t.vault.read(tenant: "acme", objectID: missing, context: .test) { served.append(contentsOf: $0) }
                }
            }
            #expect(served.isEmpty)
            #expect(added.map(\.sequence) == [2, 3])
            #expect(added.map(\.outcome) == [.allowed, .error])
            #expect(added.map(\.errorCode) == [nil, "not-found"])
            #expect(added.allSatisfy { $0.action == "read" && $0.objectID == missing.rawValue && $0.tenant == "acme" && $0.actor == "store-tests" })
            #expect(added.allSatisfy { $0.bytes == nil })
            // The same for a stat and a delete.
            let stat = try await t.recordsAdded {
                await expectCofferError(.notFound) { _ = try await t.vault.stat(tenant: "acme", objectID: missing, context: .test) }
            }
            #expect(stat.map(\.outcome) == [.allowed, .error])
            #expect(stat.map(\.action) == ["stat", "stat"])
            let delete = try await t.recordsAdded {
                await expectCofferError(.notFound) { try await t.vault.delete(tenant: "acme", objectID: missing, context: .test) }
            }
            #expect(delete.map(\.outcome) == [.allowed, .error])
            #expect(delete.last?.errorCode == "not-found")
        }
    }

    @Test("queries filter by every field and by time, newest first, with paging")
    func queries() async throws {
        try await withTestVault { t in
            // Phase A: records 1 (tenant acme), 2, 3.
            let (obj1, _) = try await t.vault.put(tenant: "acme", kind: .config, name: "one", bytes: Array("one".utf8), context: .test)
            _ = try await t.vault.readAll(tenant: "acme", objectID: obj1, context: .test)
            try await Task.sleep(for: .milliseconds(20))
            let t1 = nowMilliseconds()
            try await Task.sleep(for: .milliseconds(20))
            // Phase B: 4, 5, 6.
            try await t.vault.createTenant("globex", context: .test)
            try await t.vault.put(tenant: "globex", kind: .config, name: "two", bytes: Array("two".utf8), context: .test)
            _ = try await t.vault.list(tenant: "globex", context: .test)
            try await Task.sleep(for: .milliseconds(20))
            let t2 = nowMilliseconds()
            try await Task.sleep(for: .milliseconds(20))
            // Phase C: 7...12.
            try await t.vault.addPrincipal("po", roles: [.privacyOfficer], context: .admin)
            try await t.vault.addPrincipal("bob", roles: [.service], context: .admin)
            try t.insertBareSubject("subject-7", tenant: "acme")
            let grant = try await t.vault.issueGrant(to: "bob", tenant: "acme", subject: "subject-7", purpose: .support,
                                                     expiresAt: nowMilliseconds() + 86_400_000, reason: "ticket",
                                                     context: accessContext("po", .subjectRequest))
            await expectCofferError(.accessDenied) { _ = try await t.vault.readAll(tenant: "acme", objectID: obj1, context: accessContext("nobody", .support)) }
            let missing = ObjectID("obj_" + String(repeating: "0", count: 32))
            await expectCofferError(.notFound) { _ = try await t.vault.readAll(tenant: "acme", objectID: missing, context: .test) }
            #expect(try t.auditLogSize() == 12)

            func query(_ q: AuditQuery) async throws -> [Int64] {
                try await t.vault.auditRecords(q, context: .testAuditor).map(\.sequence)
            }
            // Each query is recorded before it runs, so it finds itself when its filters match it.
            #expect(try await query(AuditQuery(since: t2)) == [13, 12, 11, 10, 9, 8, 7])
            #expect(try await query(AuditQuery(since: t1, until: t2)) == [6, 5, 4])
            #expect(try await query(AuditQuery(until: t1)) == [3, 2, 1])
            #expect(try await query(AuditQuery(tenant: "globex")) == [6, 5, 4])
            #expect(try await query(AuditQuery(actor: "po")) == [9])
            #expect(try await query(AuditQuery(actor: "nobody")) == [10])
            #expect(try await query(AuditQuery(subject: "subject-7")) == [9])
            #expect(try await query(AuditQuery(objectID: obj1.rawValue)) == [10, 3, 2])
            #expect(try await query(AuditQuery(objectID: missing.rawValue)) == [12, 11])
            #expect(try await query(AuditQuery(action: "write")) == [5, 2])
            #expect(try await query(AuditQuery(action: "principal-admin")) == [8, 7])
            #expect(try await query(AuditQuery(purpose: "subject-request")) == [9])
            #expect(try await query(AuditQuery(purpose: "support")) == [10])
            #expect(try await query(AuditQuery(outcome: .denied)) == [10])
            #expect(try await query(AuditQuery(outcome: .error)) == [12])
            #expect(try await query(AuditQuery(tenant: "acme", action: "read")) == [12, 11, 10, 3])
            #expect(try await query(AuditQuery(tenant: "acme", action: "read", outcome: .allowed)) == [11, 3])
            #expect(try await query(AuditQuery(tenant: "initech")).isEmpty)
            let granted = try await t.vault.auditRecords(AuditQuery(subject: "subject-7"), context: .testAuditor)
            #expect(granted.first?.grantID == grant.id)

            // Paging: each page's own record is newer than the cursor, so the pages are the log as
            // it was when the first page was asked for, newest first, each record once.
            let size = try t.auditLogSize()
            var pages: [[Int64]] = []
            var before: Int64?
            while true {
                let page = try await query(AuditQuery(before: before, limit: 4))
                if page.isEmpty { break }
                pages.append(page)
                before = page.last
            }
            #expect(pages.first == [size + 1, size, size - 1, size - 2])
            #expect(pages.flatMap { $0 } == Array((1...(size + 1)).reversed()))
            #expect(pages.dropLast().allSatisfy { $0.count == 4 })
            #expect(try await query(AuditQuery(before: 5, limit: 2)) == [4, 3])
            #expect(try await query(AuditQuery(action: "write", before: 5)) == [2])

            await expectCofferError(.invalidArgument) { _ = try await t.vault.auditRecords(AuditQuery(limit: 0), context: .testAuditor) }
            await expectCofferError(.invalidArgument) { _ = try await t.vault.auditRecords(AuditQuery(limit: 10_001), context: .testAuditor) }
        }
    }

    @Test("the log holds no content and no object names", .embeddedFilesOnly)
    func noContentOrNames() async throws {
        try await withTestVault { t in
            let contentMarker = "AUDIT-CONTENT-MARKER-c81f0e"
            let nameMarker = "AUDIT-NAME-MARKER-3b7d52"
            let content = Array(String(repeating: contentMarker, count: 200).utf8)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "script-\(nameMarker)", bytes: content, context: .test)
            #expect(try await t.vault.readAll(tenant: "acme", objectID: id, context: .test) == content)
            _ = try await t.vault.readRange(tenant: "acme", objectID: id, 0...99)
            #expect(try await t.vault.list(tenant: "acme", context: .test).objects.first?.name == "script-\(nameMarker)")
            _ = try await t.vault.stat(tenant: "acme", objectID: id, context: .test)
            await expectCofferError(.accessDenied) {
                _ = try await t.vault.put(tenant: "acme", kind: .testScript, name: "denied-\(nameMarker)", bytes: content,
                                          context: accessContext("nobody", .serviceOperation))
            }
            try await t.vault.delete(tenant: "acme", objectID: id, context: .test)
            _ = try await t.vault.auditRecords(AuditQuery(), context: .testAuditor)

            let bytes = try t.auditFileBytes()
            // The scan sees the records: the object id is there.
            #expect(contains(bytes, Array(id.rawValue.utf8)))
            #expect(!contains(bytes, Array(contentMarker.utf8)))
            #expect(!contains(bytes, Array(nameMarker.utf8)))
            #expect(!contains(bytes, Array(contentMarker.prefix(12).utf8)))
            for record in try t.auditLogRecords() {
                let text = String(decoding: record.canonicalBytes, as: UTF8.self)
                #expect(!text.contains(nameMarker))
                #expect(!text.contains(contentMarker))
            }
        }
    }

    @Test("group commit: 64 concurrent reads all succeed with 64 distinct records and no gaps")
    func groupCommit() async throws {
        try await withTestVault { t in
            let content = testBytes(3000, seed: 64)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "shared", bytes: content, context: .test)
            let before = try t.auditLogSize()
            #expect(before == 2)
            let vault = t.vault
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<64 {
                    group.addTask {
                        let context = accessContext("store-tests", .serviceOperation, requestID: "req-\(i)")
                        return try await vault.readAll(tenant: "acme", objectID: id, context: context) == content
                    }
                }
                var results: [Bool] = []
                for try await ok in group { results.append(ok) }
                return results
            }
            #expect(results.count == 64)
            #expect(results.allSatisfy { $0 })
            let all = try t.auditLogRecords()
            #expect(all.map(\.sequence) == Array(1...Int64(all.count)))
            #expect(all.count == 66)
            let reads = all.filter { $0.action == "read" }
            #expect(reads.count == 64)
            #expect(Set(reads.map(\.sequence)) == Set(3...66))
            #expect(Set(reads.compactMap(\.requestID)) == Set((0..<64).map { "req-\($0)" }))
            #expect(reads.allSatisfy { $0.bytes == 3000 && $0.outcome == .allowed && $0.objectID == id.rawValue })
            #expect(try t.leafHashes().count == 66)
            let verification = try await t.verifyLog()
            #expect(verification.ok)
            #expect(verification.treeSize == 67)
        }
    }

    // On PostgreSQL + S3 a test's time includes its wait for one of the few test vaults
    // (`VaultSlots`), minutes when every suite starts at once.
    @Test("many concurrent listings, stats and reads all complete (regression: reader-pool deadlock)",
          .timeLimit(.minutes(ScaleOutTestServers.engineIsScaleOut ? 15 : 2)))
    func concurrentMixedAccesses() async throws {
        // Policy decisions and content reads use SQLite readers synchronously; listings and stats
        // read asynchronously. With GRDB's async read keeping its reader until the task resumed,
        // every cooperative thread could block waiting for a reader held by a suspended task: this
        // test hung every time on two cores before the async reads gave their readers back early.
        try await withTestVault { t in
            let content = testBytes(5000, seed: 77)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "hot", bytes: content, context: .test)
            let vault = t.vault
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<64 {
                    group.addTask {
                        for _ in 0..<25 {
                            switch i % 3 {
                            case 0: _ = try await vault.tenants(context: .admin)
                            case 1: _ = try await vault.stat(tenant: "acme", objectID: id, context: .test)
                            default: #expect(try await vault.readAll(tenant: "acme", objectID: id, context: .test) == content)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let total: Int64 = 2 + 64 * 25
            #expect(try t.auditLogSize() == total)
            #expect(try t.auditLogRecords().map(\.sequence) == Array(1...total))
            // More than 1024 records: the log signed a checkpoint on its own, and it matches.
            let verification = try await t.verifyLog()
            #expect(verification.ok)
            #expect(verification.checkpointsChecked == 1)
        }
    }

    @Test("an untouched log verifies; a checkpoint is signed and later logs extend it")
    func verifyAndCheckpoint() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .config, name: "c", bytes: Array("x".utf8), context: .test)
            _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test)
            await expectCofferError(.accessDenied) { _ = try await t.vault.list(tenant: "acme", context: accessContext("nobody", .support)) }
            // Records 1...4; the verify is record 5.
            let verification = try await t.verifyLog()
            #expect(verification.ok)
            #expect(verification.treeSize == 5)
            #expect(verification.recordsChecked == 5)
            #expect(verification.prunedBefore == 1)
            #expect(verification.checkpointsChecked == 0)
            #expect(verification.firstBadRecord == nil)
            #expect(verification.problem == nil)
            #expect(verification.rootHash == MerkleTree.root(try t.leafHashes()[...]).hexString)
            // Every leaf is the hash of its record's canonical bytes.
            let leaves = try t.leafHashes()
            for record in try t.auditLogRecords() {
                #expect(leaves[Int(record.sequence - 1)] == MerkleTree.leafHash(record.canonicalBytes))
            }

            let checkpoint = try await t.vault.auditCheckpoint(context: .testAuditor)
            #expect(checkpoint.treeSize == 6)  // it records itself first
            #expect(checkpoint.format == "coffer-audit-checkpoint-v1")
            #expect(checkpoint.rootHash == MerkleTree.root(try t.leafHashes()[0..<6]).hexString)
            #expect(checkpoint.hasValidSignature())
            #expect(checkpoint.hasValidSignature(publicKey: checkpoint.publicKey))
            #expect(checkpoint.signedText == "coffer-audit-checkpoint-v1\n6\n\(checkpoint.rootHash)\n\(checkpoint.time)\n")
            #expect(checkpoint.keyID == t.vault.accessLog.log.keyID)
            #expect(try t.storedCheckpointSizes() == [6])
            #expect(try await t.vault.auditCheckpoints(context: .testAuditor) == [checkpoint])
            // Any change to what was signed breaks the signature.
            let other = try await withTestVault { other in try await other.vault.auditCheckpoint(context: .testAuditor) }
            #expect(!checkpoint.hasValidSignature(publicKey: other.publicKey))
            let changed = [
                AuditCheckpoint(treeSize: 7, rootHash: checkpoint.rootHash, time: checkpoint.time, keyID: checkpoint.keyID,
                                publicKey: checkpoint.publicKey, signature: checkpoint.signature),
                AuditCheckpoint(treeSize: 6, rootHash: MerkleTree.root([]).hexString, time: checkpoint.time, keyID: checkpoint.keyID,
                                publicKey: checkpoint.publicKey, signature: checkpoint.signature),
                AuditCheckpoint(treeSize: 6, rootHash: checkpoint.rootHash, time: checkpoint.time + 1, keyID: checkpoint.keyID,
                                publicKey: checkpoint.publicKey, signature: checkpoint.signature),
            ]
            for forged in changed { #expect(!forged.hasValidSignature()) }

            // More records, then the log still extends the checkpoint.
            for _ in 0..<5 { _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test) }
            let extended = try await t.verifyLog(extending: checkpoint)
            #expect(extended.ok)
            #expect(extended.treeSize == 13)  // 7 listed the checkpoints, 8...12 the reads
            #expect(extended.checkpointsChecked == 1)
            // A checkpoint exported to JSON and read back works the same.
            let decoded = try JSONDecoder().decode(AuditCheckpoint.self, from: JSONEncoder().encode(checkpoint))
            #expect(try await t.verifyLog(extending: decoded).ok)
            // A checkpoint whose signature does not hold, or signed by another vault, is refused.
            for forged in changed + [other] {
                let result = try await t.verifyLog(extending: forged)
                #expect(!result.ok)
                #expect(result.firstBadRecord == 0)
                #expect(result.problem?.contains("signature") == true)
            }
        }
    }

    @Test("inclusion proofs of every record verify against the current root")
    func proofs() async throws {
        try await withTestVault { t in
            try await t.growAuditLog(to: 9)
            for sequence in Int64(1)...9 {
                let proof = try await t.vault.auditProof(sequence: sequence, context: .testAuditor)
                #expect(proof.isValid)
                #expect(proof.sequence == sequence)
                #expect(proof.leafIndex == sequence - 1)
                #expect(proof.treeSize == 9 + sequence)  // each proof records itself first
                let record = try #require(try t.auditRecord(sequence))
                #expect(proof.leafHash == MerkleTree.leafHash(record.canonicalBytes).hexString)
                #expect(proof.rootHash == MerkleTree.root(try t.leafHashes()[0..<Int(proof.treeSize)]).hexString)
                // The proof does not prove another record.
                let other = AuditInclusionProof(sequence: sequence, leafIndex: proof.leafIndex, treeSize: proof.treeSize,
                                                leafHash: MerkleTree.leafHash([0x42]).hexString, rootHash: proof.rootHash, path: proof.path)
                #expect(!other.isValid)
            }
            await expectCofferError(.notFound) { _ = try await t.vault.auditProof(sequence: 0, context: .testAuditor) }
            await expectCofferError(.notFound) { _ = try await t.vault.auditProof(sequence: 1000, context: .testAuditor) }
        }
    }

    @Test("the access review lists actors and refusals of its period")
    func review() async throws {
        try await withTestVault { t in
            try await Task.sleep(for: .milliseconds(5))  // after the tenant's record
            let start = nowMilliseconds()
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .config, name: "c", bytes: Array("review".utf8), context: .test)
            _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test)
            await expectCofferError(.accessDenied) { _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: accessContext("mallory", .support)) }
            // The review records itself after `to` is computed: leave room for a loaded machine.
            let review = try await t.vault.accessReview(from: start, to: nowMilliseconds() + 600_000, context: .testAuditor)
            #expect(review.totalRecords == 4)  // put, read, the refusal, the review itself
            #expect(review.actors.map(\.actor) == ["mallory", "store-tests"])
            #expect(review.actors.first?.denied == 1)
            #expect(review.actors.last?.bytes == 6)
            #expect(review.refusals.map(\.sequence) == [4])
            #expect(review.refusals.first?.actor == "mallory")
            #expect(review.markdown.contains("## Refusals (1)"))
            #expect(review.markdown.contains("| 4 |"))
            await expectCofferError(.invalidArgument) { _ = try await t.vault.accessReview(from: start, to: start, context: .testAuditor) }
        }
    }

    @Test("fail closed: with the log read-only nothing is read or written; restoring it restores service", .embeddedFilesOnly)
    func failClosed() async throws {
        try await withTestVault { t in
            let content = testBytes(20_000, seed: 3)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "kept", bytes: content, context: .test)
            let size = try t.auditLogSize()
            let objects = try await t.vault.contentCount("SELECT count(*) FROM object")
            let versions = try await t.vault.contentCount("SELECT count(*) FROM version")
            try t.setAuditFileMode(0o400)
            defer { try? t.setAuditFileMode(0o600) }

            var served: [UInt8] = []
            let error = await expectCofferError(.auditUnavailable) {
                try await t.vault.read(tenant: "acme", objectID: id, context: .test) { served.append(contentsOf: $0) }
            }
            #expect(error?.message.contains("not writable") == true)
            #expect(served.isEmpty)
            await expectCofferError(.auditUnavailable) {
                try await t.vault.read(tenant: "acme", objectID: id, range: 0...9, context: .test) { served.append(contentsOf: $0) }
            }
            #expect(served.isEmpty)
            await expectCofferError(.auditUnavailable) {
                _ = try await t.vault.put(tenant: "acme", kind: .testResult, name: "new-while-readonly", bytes: content, context: .test)
            }
            await expectCofferError(.auditUnavailable) {
                _ = try await t.vault.put(tenant: "acme", kind: .testResult, name: "kept", bytes: content, context: .test)
            }
            #expect(try await t.vault.contentCount("SELECT count(*) FROM object") == objects)
            #expect(try await t.vault.contentCount("SELECT count(*) FROM version") == versions)
            await expectCofferError(.auditUnavailable) { try await t.vault.delete(tenant: "acme", objectID: id, context: .test) }
            await expectCofferError(.auditUnavailable) { _ = try await t.vault.list(tenant: "acme", context: .test) }
            // A refusal that cannot be recorded is still a refusal.
            await expectCofferError(.auditUnavailable) {
                _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: accessContext("nobody", .support))
            }
            #expect(try t.auditLogSize() == size)

            try t.setAuditFileMode(0o600)
            #expect(try await t.vault.readAll(tenant: "acme", objectID: id, context: .test) == content)
            let (newID, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "new-after", bytes: content, context: .test)
            #expect(try await t.vault.readAll(tenant: "acme", objectID: newID, context: .test) == content)
            #expect(try t.auditLogSize() == size + 3)
            #expect(try await t.verifyLog().ok)
        }
    }
}
