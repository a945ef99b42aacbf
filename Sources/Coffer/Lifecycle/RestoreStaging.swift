import CofferCrypto
import CofferSQL
import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// A backup's files copied where a restore prepares them, read and changed before the vault is
/// opened: the audit key and witness they recorded, their log's newest checkpoint.
struct RestoreStaging {
    /// Staging directories are named `<target><suffix><8 hex>`.
    static let suffix = ".restoring-"

    let directory: URL
    let recordedWitness: URL?
    private let keyring: Keyring
    private let auditKeyID: String
    private let signingKey: Ed25519SigningKey
    private let origin: String
    private let verifierKey: NoteVerifierKey

    init(directory: URL, keyring: Keyring) throws {
        self.directory = directory
        self.keyring = keyring
        let info = try Self.info(ofControlAt: directory.appendingPathComponent(Vault.FileName.control))
        guard let auditKey = info["audit_key"] else { throw CofferError(.schemaMismatch, "the backup's control file names no audit key") }
        auditKeyID = auditKey
        signingKey = try AuditLog.signingKey(seed: keyring.secret(id: auditKey, purpose: .auditSigning))
        origin = "coffer.vault/" + Array(try SHA256.hash(signingKey.publicKey).prefix(8)).hexString
        verifierKey = try NoteVerifierKey(name: origin, publicKey: signingKey.publicKey)
        recordedWitness = info["witness"].map { URL(fileURLWithPath: $0).standardizedFileURL }
    }

    private static func info(ofControlAt url: URL) throws -> [String: String] {
        try VaultDatabase.guardedSync {
            try DatabaseQueue(path: url.path, configuration: Vault.readOnlyConfiguration).read { db in
                try Dictionary(Row.fetchAll(db, sql: "SELECT name, value FROM vault_info").map {
                    (try $0.stored("name", in: "vault_info") as String, try $0.stored("value", in: "vault_info") as String)
                }, uniquingKeysWith: { first, _ in first })
            }
        }
    }

    /// The staged copy's manifest, signed by this keyring's audit key, every file matching it.
    func checkedManifest() throws -> BackupManifest {
        do {
            return try BackupFiles.checkedManifest(in: directory, key: verifierKey)
        } catch let error as CofferError where error.code == .authenticationFailed {
            throw CofferError(.tamperDetected, "the backup's manifest is not signed by this keyring's audit key: it is another vault's, or was changed")
        }
    }

    /// The erasure ledger from the witness directories whose checkpoint this vault signed, and
    /// from the vault in `ledgerFrom` if it is this vault (its audit key is this one).
    /// - Throws: `CofferError` `invalidArgument` when `ledgerFrom` is another vault's.
    func ledger(witnesses: [URL], ledgerFrom: URL?) throws -> [LedgerEntry] {
        var entries = Set<LedgerEntry>()
        for witness in Set(witnesses) {
            // A witness of another vault (its checkpoint signed by another key) is not this
            // vault's ledger: its erasures are not applied.
            if let note = try AuditWitness(directory: witness).latest(), !note.isSigned(by: verifierKey) { continue }
            entries.formUnion(try LedgerWitness(directory: witness).entries())
        }
        if let ledgerFrom {
            let control = ledgerFrom.appendingPathComponent(Vault.FileName.control)
            guard FileManager.default.fileExists(atPath: control.path) else {
                throw CofferError(.invalidArgument, "\(ledgerFrom.path) holds no control.sqlite: it is not a vault whose erasures could be applied")
            }
            let recorded = try Self.info(ofControlAt: control)["audit_public_key"]
            guard recorded == signingKey.publicKey.hexString else {
                throw CofferError(.invalidArgument, "\(ledgerFrom.path) is another vault (its access log has another key): its erasures are not this vault's")
            }
            let pool = try VaultDatabase.guardedSync { try DatabasePool(path: control.path, configuration: Vault.readOnlyConfiguration) }
            entries.formUnion(try KeyStore(pool: SQLiteDatabase(pool)).ledger())
        }
        return entries.sorted { ($0.at, $0.id) < ($1.at, $1.id) }
    }

    /// Records `witness` as the staged vault's witness and seals its records again.
    func recordWitness(_ witness: URL) throws {
        let pool = try VaultDatabase.guardedSync { try DatabasePool(path: directory.appendingPathComponent(Vault.FileName.control).path) }
        defer { try? pool.close() }
        try SQLiteDatabase(pool).makeDurable()
        let store = VaultInfoStore(pool: SQLiteDatabase(pool))
        let key = try VaultInfoStore.sealKey(keyring: keyring, auditKeyID: auditKeyID)
        _ = try store.checkSeal(try store.all(), key: key)
        try store.recordWitness(witness.path)
        try store.seal(key: key)
    }

    /// Gives `witness` the staged log's newest checkpoint when it has none (lost, or new), or
    /// when it holds a longer log's and `supersede` says that vault is gone (its checkpoint kept
    /// aside as `checkpoint.superseded-<time>`).
    /// - Returns: The superseded checkpoint as `size:root`, or nil.
    /// - Throws: `CofferError` `alreadyExists` when the witness is ahead and `supersede` is false.
    func prepareWitness(_ witness: URL, supersede: Bool) throws -> String? {
        let current = AuditWitness(directory: witness)
        let (size, root) = try VaultDatabase.guardedSync {
            try DatabaseQueue(path: directory.appendingPathComponent(Vault.FileName.audit).path, configuration: Vault.readOnlyConfiguration).read { db in
                let row = try Row.fetchOne(db, sql: "SELECT tree_size, root FROM checkpoint ORDER BY tree_size DESC LIMIT 1")
                return (try row?.stored("tree_size", in: "checkpoint") ?? Int64(0), try row?.storedBytes("root", in: "checkpoint") ?? MerkleTree.root([]))
            }
        }
        var superseded: String?
        if let latest = try current.latest() {
            guard latest.treeSize > size else { return nil }  // opening checks the log extends it
            guard supersede else {
                throw CofferError(.alreadyExists, "the witness \(witness.path) holds a checkpoint of \(latest.treeSize) records, more than the backup's log (\(size)): it witnesses a vault that is still there, or was lost. If it was lost, restore with --supersede-witness (its checkpoint is kept aside); for a restore beside a running vault, give the restored one a new --witness DIR")
            }
            let aside = witness.appendingPathComponent("\(AuditWitness.fileName).superseded-\(nowMilliseconds())")
            do { try FileManager.default.moveItem(at: current.file, to: aside) } catch {
                throw CofferError(.io, "cannot move the witnessed checkpoint aside: \(error.localizedDescription)")
            }
            superseded = "\(latest.treeSize):\(latest.rootHash.hexString)"
        }
        try current.record(try CheckpointNote(origin: origin, treeSize: size, rootHash: root, time: nowMilliseconds(), signingKey: signingKey))
        return superseded
    }

    /// Refuses a target that is a file, a link, or a directory with anything in it.
    static func requireEmptyTarget(_ directory: URL) throws {
        var info = stat()
        guard lstat(directory.path, &info) == 0 else { return }  // missing: made by the restore
        guard (info.st_mode & S_IFMT) == S_IFDIR, (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.isEmpty == true else {
            throw CofferError(.alreadyExists, "\(directory.path) is not empty (or not a directory): restore into a new directory (move the damaged vault aside and pass it as --ledger-from)")
        }
    }

    /// Moves the staged vault to `directory` (removing it first only if it is an empty directory).
    static func moveIntoPlace(_ staging: URL, at directory: URL) throws {
        try requireEmptyTarget(directory)
        if FileManager.default.fileExists(atPath: directory.path), rmdir(directory.path) != 0 {
            throw CofferError(.io, "cannot replace the empty directory \(directory.path): \(String(cString: strerror(errno)))")
        }
        guard rename(staging.path, directory.path) == 0 else {
            throw CofferError(.io, "cannot move the restored vault into \(directory.path): \(String(cString: strerror(errno)))")
        }
        try AtomicOutputFile.syncDirectory(directory.deletingLastPathComponent().path)
    }

    /// Removes staging directories of `directory` a crash left more than an hour ago (they hold
    /// copies of keys that no erasure reaches).
    static func removeStale(near directory: URL) {
        StaleEntries.remove(prefix: directory.lastPathComponent + suffix, in: directory.deletingLastPathComponent())
    }
}
