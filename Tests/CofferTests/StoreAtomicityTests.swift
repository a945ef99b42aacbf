import Foundation
import GRDB
import Testing
@testable import Coffer

/// Enough plaintext that the writer stores a batch of segments before it is committed (a batch
/// is 8 MiB / 4096 = 2048 segments; the last one is held back, so 2047 rows are written).
private let pendingSize = 4040 + 4080 * 2047 + 1000

@Suite("Store atomicity")
struct StoreAtomicityTests {
    @Test("while a put is in progress readers see neither the new object nor the new version")
    func readersDuringWrite() async throws {
        try await withTestVault { t in
            let old = testBytes(6000, seed: 1)
            let (existing, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "existing", bytes: old, context: .test)

            let newVersion = try await t.vault.makeWriter(tenant: "acme", kind: .testScript, name: "existing", context: .test)
            let newObject = try await t.vault.makeWriter(tenant: "acme", kind: .testScript, name: "fresh", context: .test)
            #expect(newVersion.objectID == existing)
            #expect(newVersion.version == 2)
            let v2 = testBytes(pendingSize, seed: 2), fresh = testBytes(pendingSize, seed: 3)
            try await write(v2, to: newVersion, piece: 1 << 20)
            try await write(fresh, to: newObject, piece: 1 << 20)

            // The writers really have stored segments.
            let pendingRow = try #require(try await t.vault.versionRowID(objectID: existing, version: 2))
            let freshRow = try #require(try await t.vault.versionRowID(objectID: newObject.objectID, version: 1))
            try await expectPendingSegments(t.vault, pendingRow)
            try await expectPendingSegments(t.vault, freshRow)

            #expect(try await t.vault.contentCount("SELECT count(*) FROM object") == 2, "the new object's row exists, unpublished")
            let page = try await t.vault.list(tenant: "acme", context: .test)
            #expect(page.objects.map(\.id) == [existing])
            #expect(page.objects.first?.latestVersion == 1)
            #expect(page.objects.first?.versions.map(\.version) == [1])
            let stat = try await t.vault.stat(tenant: "acme", objectID: existing, context: .test)
            #expect(stat.latestVersion == 1)
            #expect(stat.versions.map(\.version) == [1])
            await expectCofferError(.notFound) { _ = try await t.vault.stat(tenant: "acme", objectID: newObject.objectID, context: .test) }
            await expectCofferError(.notFound) {
                _ = try await t.vault.readAll(tenant: "acme", objectID: newObject.objectID, context: .test)
            }
            await expectCofferError(.notFound) {
                _ = try await t.vault.readAll(tenant: "acme", objectID: existing, version: 2, context: .test)
            }
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: existing, context: .test), old)
            // Another Vault on the same directory (as another process) does not clear a live writer's rows.
            let second = try await t.reopen()
            try await expectPendingSegments(t.vault, pendingRow)
            #expect(try await second.list(tenant: "acme", context: .test).objects.map(\.id) == [existing])

            let committedVersion = try await newVersion.commit()
            let committedObject = try await newObject.commit()
            #expect(committedVersion.version == 2)
            #expect(committedObject.version == 1)
            let after = try await t.vault.list(tenant: "acme", context: .test)
            #expect(Set(after.objects.map(\.id)) == [existing, newObject.objectID])
            #expect(try await t.vault.stat(tenant: "acme", objectID: existing, context: .test).versions.map(\.version) == [1, 2])
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: existing, context: .test), v2)
            expectSameBytes(try await second.readAll(tenant: "acme", objectID: newObject.objectID, context: .test), fresh)
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: existing, version: 1, context: .test), old)
            try second.close()
        }
    }

    @Test("abandon() removes the pending version, its segment rows, a new object and the lock file", .segmentRowsOnly)
    func abandonNewObject() async throws {
        try await withTestVault { t in
            let writer = try await t.vault.makeWriter(tenant: "acme", kind: .testResult, name: "scratch", context: .test)
            try await write(testBytes(pendingSize, seed: 4), to: writer, piece: 1 << 20)
            let row = try #require(try await t.vault.versionRowID(objectID: writer.objectID, version: 1))
            try await expectPendingSegments(t.vault, row)
            #expect(try lockFiles(t).count == 1)

            try await writer.abandon()
            #expect(try await t.vault.segmentRowCount(versionRowID: row) == 0)
            #expect(try await t.vault.contentCount("SELECT count(*) FROM segment") == 0)
            #expect(try await t.vault.contentCount("SELECT count(*) FROM version") == 0)
            #expect(try await t.vault.contentCount("SELECT count(*) FROM object") == 0)
            #expect(try await t.vault.list(tenant: "acme", context: .test).objects.isEmpty)
            await expectCofferError(.notFound) { _ = try await t.vault.stat(tenant: "acme", objectID: writer.objectID, context: .test) }
            #expect(try lockFiles(t).isEmpty)
            await expectCofferError(.invalidArgument) { try await writer.write([1]) }
            await expectCofferError(.invalidArgument) { _ = try await writer.commit() }
            try await writer.abandon()  // twice is harmless
        }
    }

    @Test("abandoning a new version keeps the old one; its number is skipped")
    func abandonNewVersion() async throws {
        try await withTestVault { t in
            let old = testBytes(7000, seed: 5)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "kept", bytes: old, context: .test)
            let writer = try await t.vault.makeWriter(tenant: "acme", kind: .testResult, name: "kept", context: .test)
            #expect(writer.version == 2)
            try await write(testBytes(pendingSize, seed: 6), to: writer, piece: 1 << 20)
            let row = try #require(try await t.vault.versionRowID(objectID: id, version: 2))
            try await expectPendingSegments(t.vault, row)
            try await writer.abandon()

            #expect(try await t.vault.segmentRowCount(versionRowID: row) == 0)
            #expect(try await t.vault.versionRowID(objectID: id, version: 2) == nil)
            let stat = try await t.vault.stat(tenant: "acme", objectID: id, context: .test)
            #expect(stat.versions.map(\.version) == [1])
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: id, context: .test), old)
            let next = try await t.vault.put(tenant: "acme", kind: .testResult, name: "kept", bytes: [9], context: .test)
            #expect(next.version.version == 3)
        }
    }

    @Test("a writer dropped without commit leaves nothing", .embeddedFilesOnly)
    func droppedWriter() async throws {
        try await withTestVault { t in
            let (objectID, row) = try await writeAndDrop(t.vault, name: "dropped", size: pendingSize)
            #expect(try await t.vault.segmentRowCount(versionRowID: row) == 0)
            #expect(try await t.vault.contentCount("SELECT count(*) FROM version") == 0)
            #expect(try await t.vault.contentCount("SELECT count(*) FROM object") == 0)
            await expectCofferError(.notFound) { _ = try await t.vault.stat(tenant: "acme", objectID: objectID, context: .test) }
            #expect(try await t.vault.list(tenant: "acme", context: .test).objects.isEmpty)
            #expect(try lockFiles(t).isEmpty)
        }
    }

    /// Simulates a writer process killed mid-put: the vault directory is copied while the writer
    /// holds its lock, so the copy has the pending rows and a lock file that no process holds,
    /// exactly as after SIGKILL. Opening the copy must clear them.
    @Test("Vault.open removes what a dead writer left (a copy taken mid-write)", .embeddedFilesOnly)
    func deadWriterCleanedOnOpen() async throws {
        try await withTestVault { t in
            let old = testBytes(5000, seed: 7)
            let (existing, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "existing", bytes: old, context: .test)
            let newVersion = try await t.vault.makeWriter(tenant: "acme", kind: .testScript, name: "existing", context: .test)
            let newObject = try await t.vault.makeWriter(tenant: "acme", kind: .testScript, name: "fresh", context: .test)
            try await write(testBytes(pendingSize, seed: 8), to: newVersion, piece: 1 << 20)
            try await write(testBytes(pendingSize, seed: 9), to: newObject, piece: 1 << 20)
            let pendingRow = try #require(try await t.vault.versionRowID(objectID: existing, version: 2))
            let freshRow = try #require(try await t.vault.versionRowID(objectID: newObject.objectID, version: 1))
            #expect(try lockFiles(t).count == 2)

            try await withTemporaryPath { copy in
                try FileManager.default.copyItem(at: t.directory, to: copy)
                #expect(try FileManager.default.contentsOfDirectory(atPath: copy.appendingPathComponent("writers").path).count == 2)
                // The copy holds what the dead writers left: two pending versions with stored segments.
                let raw = try DatabaseQueue(path: copy.appendingPathComponent("content.sqlite").path)
                let (pendingVersions, pendingSegments) = try await raw.read { db in
                    (try Int.fetchOne(db, sql: "SELECT count(*) FROM version WHERE state = 0") ?? 0,
                     try Int.fetchOne(db, sql: "SELECT count(*) FROM segment WHERE version_id IN (?, ?)",
                                      arguments: [pendingRow, freshRow]) ?? 0)
                }
                try raw.close()
                #expect(pendingVersions == 2)
                #expect(pendingSegments > 0)
                let reopened = try Vault.open(at: copy, keyring: t.keyring)
                #expect(try await reopened.segmentRowCount(versionRowID: pendingRow) == 0)
                #expect(try await reopened.segmentRowCount(versionRowID: freshRow) == 0)
                #expect(try await reopened.contentCount("SELECT count(*) FROM version WHERE state = 0") == 0)
                #expect(try await reopened.contentCount("SELECT count(*) FROM object WHERE id = ?", [newObject.objectID]) == 0)
                #expect(try FileManager.default.contentsOfDirectory(atPath: copy.appendingPathComponent("writers").path).isEmpty,
                        "the dead writers' lock files are removed")
                let stat = try await reopened.stat(tenant: "acme", objectID: existing, context: .test)
                #expect(stat.versions.map(\.version) == [1])
                expectSameBytes(try await reopened.readAll(tenant: "acme", objectID: existing, context: .test), old)
                #expect(try await reopened.list(tenant: "acme", context: .test).objects.map(\.id) == [existing])
                // The dead writer's version number stays used.
                let next = try await reopened.put(tenant: "acme", kind: .testScript, name: "existing", bytes: [1], context: .test)
                #expect(next.version.version == 3)
                try reopened.close()
            }

            // Meanwhile the live writers in the original vault are untouched and still commit.
            try await expectPendingSegments(t.vault, pendingRow)
            _ = try await newVersion.commit()
            _ = try await newObject.commit()
            #expect(try await t.vault.stat(tenant: "acme", objectID: existing, context: .test).versions.map(\.version) == [1, 2])
        }
    }

    @Test("Vault.open removes a pending version whose lock file is gone", .embeddedFilesOnly)
    func pendingWithoutLockFile() async throws {
        try await withTestVault { t in
            let writer = try await t.vault.makeWriter(tenant: "acme", kind: .testScript, name: "orphan", context: .test)
            try await write(testBytes(pendingSize, seed: 10), to: writer, piece: 1 << 20)
            let row = try #require(try await t.vault.versionRowID(objectID: writer.objectID, version: 1))
            // The lock file vanishing is what a dead writer looks like once its lock is released.
            for file in try lockFiles(t) { try FileManager.default.removeItem(at: file) }
            let reopened = try await t.reopen()
            #expect(try await reopened.segmentRowCount(versionRowID: row) == 0)
            #expect(try await reopened.contentCount("SELECT count(*) FROM object") == 0)
            // The writer finds its version gone and fails rather than committing a version without rows.
            await expectCofferError(.notFound, "commit after its pending version was removed") { _ = try await writer.commit() }
            #expect(try await reopened.contentCount("SELECT count(*) FROM version") == 0)
            #expect(try await reopened.list(tenant: "acme", context: .test).objects.isEmpty)
            try reopened.close()
        }
    }
}

/// The lock files of puts in progress.
private func lockFiles(_ t: TestVault) throws -> [URL] {
    try FileManager.default.contentsOfDirectory(at: t.directory.appendingPathComponent("writers"), includingPropertiesForKeys: nil)
}

/// Starts a put, writes `size` bytes and lets the writer go without committing it.
/// - Returns: The object id and the pending version's row id (checked to hold segments before the drop).
private func writeAndDrop(_ vault: Vault, name: String, size: Int) async throws -> (ObjectID, Int64) {
    let writer = try await vault.makeWriter(tenant: "acme", kind: .testResult, name: name, context: .test)
    try await write(testBytes(size, seed: 11), to: writer, piece: 1 << 20)
    let row = try #require(try await vault.versionRowID(objectID: writer.objectID, version: 1))
    try await expectPendingSegments(vault, row)
    return (writer.objectID, row)
}

/// Checks that a pending version already has segments stored. On PostgreSQL + S3 a small pending
/// version has none yet: its segments wait in the writer until a group of 8 MiB or the commit.
private func expectPendingSegments(_ vault: Vault, _ row: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    guard vault.files != nil else { return }
    #expect(try await vault.segmentRowCount(versionRowID: row) > 0, sourceLocation: sourceLocation)
}
