import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferSQL

// The ledger's tally (control migration v11) and the receipt built from a request's entries.

@Suite("Erasure ledger tally and receipts")
struct ErasureLedgerTests {
    @Test("a control copy from before v11 (an older backup's) still takes ledger entries; after v11 they read back without a tally")
    func olderControlCopy() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-ledger-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(Vault.FileName.control).path
        let queue = try DatabaseQueue(path: path)
        try VaultSchema.control.migrate(queue, upTo: "v10-period-keys")
        try queue.close()
        let entry = LedgerEntry(at: 5, kind: .subject, tenant: "acme", subject: "subj_1", keyIDs: ["sk_1"], requestID: "erasure_1")
        #expect(try BackupScrubber.apply([entry], skipping: [], toControlAt: path).applied == [entry.id])

        let pool = try DatabasePool(path: path)
        defer { try? pool.close() }
        try VaultSchema.control.migrate(pool)
        let store = KeyStore(pool: SQLiteDatabase(pool))
        #expect(try store.ledger() == [entry])
        let read = try store.ledger(request: "erasure_1")
        #expect(read.map(\.entry) == [entry] && read.first?.tally == nil)
    }

    @Test("a receipt sums the tallies of every entry of its request and lists each key and subject once, in the order written")
    func receiptFromEntries() {
        let request = ErasureRequest(id: "erasure_1", tenant: "acme", subject: nil, reason: "r", requestedBy: "po", requestedAt: 1, deadline: 2,
                                     completedAt: nil)
        let entry = { (kind: LedgerKind, subject: String?, keys: [String]) in
            LedgerEntry(at: 3, kind: kind, tenant: "acme", subject: subject, keyIDs: keys, requestID: request.id)
        }
        let ledger: [(entry: LedgerEntry, tally: ErasureTally?)] = [
            (entry(.subject, "subj_a", ["sk_a"]), ErasureTally(fields: ["name", "email"], consents: 2, identifiers: 1, indexEntries: 3,
                                                               retained: [ErasureTally.Retained(fields: ["billing-last4"], until: 9)])),
            (entry(.subject, "subj_b", ["sk_b"]), ErasureTally(fields: ["name"], consents: 1)),
            (entry(.tenant, nil, ["dk_1", "dk_2"]), ErasureTally(objects: 4)),
            // A run finishing the erasure again: nothing new, nothing counted twice.
            (entry(.subject, "subj_a", []), ErasureTally()),
            (entry(.subject, "subj_c", ["sk_c"]), nil),  // an entry without a tally (merged from a witness)
        ]
        let checkpoint = ErasureReceipt.Checkpoint(treeSize: 7, rootHash: "00")
        let receipt = ErasureReceipt(request: request, ledger: ledger, erasedAt: 3, checkpoint: checkpoint)
        #expect(receipt.destroyedKeys == ["sk_a", "sk_b", "dk_1", "dk_2", "sk_c"])
        #expect(receipt.erasedSubjects == ["subj_a", "subj_b", "subj_c"])
        #expect(receipt.deletedFields == ["email", "name"])
        #expect(receipt.deletedConsents == 3 && receipt.deletedIdentifiers == 1 && receipt.deletedIndexEntries == 3)
        #expect(receipt.retained.map(\.fields) == [["billing-last4"]] && receipt.retained.first?.until == 9)
        #expect(receipt.deletedObjects == 4)

        let subject = ErasureRequest(id: "erasure_2", tenant: "acme", subject: "subj_d", reason: "r", requestedBy: "po", requestedAt: 1,
                                     deadline: 2, completedAt: nil)
        let single = ErasureReceipt(request: subject, ledger: [(LedgerEntry(at: 3, kind: .subject, tenant: "acme", subject: "subj_d", keyIDs: ["sk_d"],
                                                                           requestID: subject.id), ErasureTally(fields: ["email"]))],
                                    erasedAt: 3, checkpoint: checkpoint)
        #expect(single.destroyedKeys == ["sk_d"] && single.deletedFields == ["email"])
        #expect(single.deletedObjects == nil && single.erasedSubjects == nil, "a subject's receipt has no tenant fields")
    }
}
