import CofferCrypto
import CofferSQL
import Foundation
import GRDB

extension Vault {
    /// ``put(tenant:kind:name:bytes:context:)`` in one transaction of `content.sqlite`, when the
    /// content fits the first segment and 64 KiB, on the embedded engine: the version is made,
    /// sealed, stored and committed together with the record of the allowed write
    /// (``AuditOutbox``), under one sync, in the group commit of the moment. No pending version,
    /// no writer lock file, no second durable commit in `audit.sqlite` before it.
    /// - Returns: nil, having done nothing, when the put must take the writer's path (larger
    ///   content, another engine, or a log that cannot take records this way right now).
    func putInOneTransaction(tenant: TenantID, kind: ObjectKind, name: String, bytes: some ContiguousBytes & Sendable,
                             context: AccessContext) async throws -> (objectID: ObjectID, version: ObjectVersionInfo)? {
        let count = bytes.withUnsafeBytes { $0.count }
        guard let commits = storage.contentCommits, count <= ObjectWriter.inlineBytes,
              let layout = try? SegmentLayout(segmentSize: segmentSize), count <= layout.plaintextCapacity(ofSegment: 0) else { return nil }
        try tenant.validate()
        try ContentStore.validateName(name)
        let store = contentStore
        let request = AccessRequest(action: .write, dataClass: .content, tenant: tenant, objectKind: kind.code)
        let put = try await guardedInTransaction(context, request, prepare: {
            try store.planVersion(tenant: tenant, kind: kind, name: name)
        }) { _, plan, entry in
            try await store.putWhole(plan, bytes: bytes, record: entry, commits: commits)
        }
        guard let put else { return nil }
        CrashPoint.hit("put.after-commit")
        accessLog.outbox?.noteWritten()
        accessLog.drainSoon()
        return put
    }

    /// The most bytes ``put(tenant:kind:name:bytes:context:)`` stores in one transaction (when
    /// they also fit the first segment): a caller holding no more than this in memory should
    /// call `put` rather than ``makeWriter(tenant:kind:name:context:)``.
    public static let oneTransactionPutLimit = ObjectWriter.inlineBytes
}

extension ContentStore {
    /// Makes, seals, stores and commits a whole one-segment version of `plan` in one durable
    /// transaction of the group commit; `record` (the allowed write's entry, its object and
    /// version filled in here) goes into the outbox in the same transaction.
    func putWhole(_ plan: VersionPlan, bytes: some ContiguousBytes & Sendable, record: AuditEntry?,
                  commits: SQLiteCommitQueue) async throws -> (objectID: ObjectID, version: ObjectVersionInfo) {
        let segmentSize = self.segmentSize
        return try await VaultDatabase.guarded {
            try await commits.write(durably: true) { db in
                let session = SQLiteSession(db)
                let size = Int64(bytes.withUnsafeBytes { $0.count })
                let layout = try SegmentLayout(segmentSize: segmentSize)
                let totals = VersionTotals(plaintext: size, ciphertext: layout.ciphertextSize(plaintextSize: size), segments: 1)
                let digest = try HMACSHA256.authenticate(bytes, key: plan.digestKey)
                // Inserted committed: the transaction is the put, so no reader sees it before the
                // segment below is in.
                let (objectID, number, row) = try CatalogStore.reserveVersion(
                    session, tenant: plan.tenant, kind: plan.kind, nameMAC: plan.nameMAC, newID: plan.newID, sealName: plan.sealName,
                    writer: nil, dataKeyID: plan.period.id, segmentSize: segmentSize, at: plan.time, committed: (totals, digest))
                let aead = try StreamingAEAD(key: plan.period.stream, segmentSize: segmentSize)
                let sealed = try aead.seal(bytes, aad: Self.contentAAD(tenant: plan.tenant, objectID: objectID, version: number))
                guard sealed.count == totals.ciphertext else { throw CofferError(.cryptoFailure, "the sealed content is not the size its layout gives") }
                try SQLiteSegmentStore.insertSegment(db, version: row, index: 0, sealed)
                CrashPoint.hit("commit.after-segments")
                if var record {
                    // As the writer's path records it: the object and version, no byte count.
                    record.objectID = objectID.rawValue
                    record.objectVersion = number
                    try AuditOutbox.insert(record, in: db)
                }
                return (objectID, ObjectVersionInfo(version: number, size: size, storedSize: Int64(sealed.count), segmentSize: segmentSize,
                                                    digest: digest.hexString, createdAt: plan.time))
            }
        }
    }
}
