import Foundation

extension ErasureReceipt {
    /// The receipt of `request` from the ledger entries it wrote (``KeyStore/ledger(request:)``):
    /// every run of it, a run a crash interrupted included, so what an earlier run erased is
    /// listed too. A key or subject named by more than one run is listed once.
    /// - Parameters:
    ///   - request: The erasure request.
    ///   - ledger: Its entries, in the order written, with their tallies.
    ///   - erasedAt: When it was carried out (for a tenant, when it was marked erased).
    ///   - checkpoint: The log checkpoint that includes the erasure's records.
    init(request: ErasureRequest, ledger: [(entry: LedgerEntry, tally: ErasureTally?)], erasedAt: Int64, checkpoint: Checkpoint) {
        var keys: [String] = [], seenKeys = Set<String>()
        var subjects: [SubjectID] = [], seenSubjects = Set<String>()
        var fields = Set<String>()
        var total = ErasureTally()
        for (entry, tally) in ledger {
            for key in entry.keyIDs where seenKeys.insert(key).inserted { keys.append(key) }
            if entry.kind == .subject, let subject = entry.subject, seenSubjects.insert(subject).inserted { subjects.append(SubjectID(subject)) }
            guard let tally else { continue }
            fields.formUnion(tally.fields)
            total.consents += tally.consents
            total.identifiers += tally.identifiers
            total.indexEntries += tally.indexEntries
            total.retained += tally.retained
            total.objects += tally.objects
        }
        self.init(requestID: request.id, tenant: request.tenant, subject: request.subject, requestedAt: request.requestedAt,
                  deadline: request.deadline, erasedAt: erasedAt, destroyedKeys: keys, deletedFields: fields.sorted(),
                  deletedConsents: total.consents, deletedIdentifiers: total.identifiers, deletedIndexEntries: total.indexEntries,
                  retained: total.retained.map { Retained(fields: $0.fields, until: $0.until, reason: Vault.billingRetentionReason) },
                  checkpoint: checkpoint)
        if request.subject == nil {
            deletedObjects = total.objects
            erasedSubjects = subjects
        }
    }
}

extension Vault {
    /// The receipt of `request`, carried out at `erasedAt`, from its ledger entries, with a
    /// checkpoint of the log (the erasure's records are in it already: each is recorded before
    /// its work).
    func receipt(of request: ErasureRequest, erasedAt: Int64) async throws -> ErasureReceipt {
        let ledger = try await BlockingPool.shared.run { try self.keys.store.ledger(request: request.id) }
        let checkpoint = try await accessLog.run { try $0.checkpointNow() }
        return ErasureReceipt(request: request, ledger: ledger, erasedAt: erasedAt,
                              checkpoint: ErasureReceipt.Checkpoint(treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash))
    }
}
