import CofferCrypto
import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// File work of backups: hashing, reading and writing manifests, finding backups in a directory.
enum BackupFiles {
    static let manifestJSON = "manifest.json"
    static let manifestNote = "manifest.note"

    /// SHA-256 and size of a file, read in 1 MiB pieces.
    static func digest(of url: URL) throws -> BackupManifest.File {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CofferError(.io, "cannot read \(url.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let hasher = try SHA256.Hasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = try FileDescriptorIO.readFully(fd, into: buffer)
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
        }
        return BackupManifest.File(name: url.lastPathComponent, bytes: total, sha256: try hasher.finalize().hexString)
    }

    /// Writes `manifest.json` and the signed `manifest.note` of a backup directory.
    static func writeManifest(_ manifest: BackupManifest, in directory: URL, origin: String, key: Ed25519SigningKey) throws {
        let note = try SignedJSONNote.sign(manifest, header: BackupManifest.header, origin: origin, key: key)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try write(Array(try encoder.encode(manifest)) + [0x0A], to: directory.appendingPathComponent(manifestJSON))
        try write(Array(note.utf8), to: directory.appendingPathComponent(manifestNote))
        try AtomicOutputFile.syncDirectory(directory.path)
    }

    private static func write(_ bytes: [UInt8], to url: URL) throws {
        let output = try AtomicOutputFile(path: url.path)
        try bytes.withUnsafeBytes { try FileDescriptorIO.writeAll(output.fd, $0) }
        try output.commit()
    }

    /// The manifest of the backup in `directory`, from its signed note (the signature checked
    /// when `key` is given).
    static func manifest(in directory: URL, key: NoteVerifierKey? = nil) throws -> BackupManifest {
        let url = directory.appendingPathComponent(manifestNote)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw CofferError(.notFound, "\(directory.path) is not a Coffer backup: it has no readable \(manifestNote)")
        }
        return try SignedJSONNote.open(text, header: BackupManifest.header, key: key, as: BackupManifest.self, what: "a backup manifest")
    }

    /// The backups directly under `root`, oldest first (directories without a manifest are
    /// not backups and are left alone).
    static func backups(in root: URL) throws -> [(url: URL, manifest: BackupManifest)] {
        guard FileManager.default.fileExists(atPath: root.path) else { return [] }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: root.path) } catch {
            throw CofferError(.io, "cannot list \(root.path): \(error.localizedDescription)")
        }
        return names.filter { $0.hasPrefix("backup-") }.sorted().compactMap { name in
            let url = root.appendingPathComponent(name)
            return (try? manifest(in: url)).map { (url, $0) }
        }.sorted { $0.manifest.createdAt < $1.manifest.createdAt }
    }

    /// A backup id for `time`: `backup-YYYYMMDDTHHMMSSZ-` and 8 random hex digits.
    static func newID(at time: Int64) throws -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let stamp = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(time) / 1000))
        return "backup-\(stamp)-" + (try SecureRandom.bytes(4)).hexString
    }

    /// Copies a live database into `destination` with SQLite's online backup (one step: a
    /// consistent snapshot), as a standalone file.
    static func copy(_ source: some DatabaseReader, to destination: URL) throws {
        try VaultDatabase.guardedSync {
            var configuration = Configuration()
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
            let target = try DatabaseQueue(path: destination.path, configuration: configuration)
            try source.backup(to: target)
            try target.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            try target.close()
        }
        chmod(destination.path, 0o600)
    }

    /// Subject keys the PII copy names that the control copy lacks (a key change between the two
    /// copies): when any, the pair is taken again.
    static func missingSubjectKeys(control: URL, pii: URL) throws -> Int {
        try VaultDatabase.guardedSync {
            let queue = try DatabaseQueue(path: control.path)
            defer { try? queue.close() }
            return try queue.writeWithoutTransaction { db in
                try db.execute(sql: "ATTACH DATABASE ? AS copied_pii", arguments: [pii.path])
                defer { try? db.execute(sql: "DETACH DATABASE copied_pii") }
                let subjects = try Int.fetchOne(db, sql: """
                    SELECT count(*) FROM copied_pii.subject s WHERE s.status != 'erased' AND s.key_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM main.subject_key k WHERE k.key_id = s.key_id)
                    """) ?? 0
                let retained = try Int.fetchOne(db, sql: """
                    SELECT count(*) FROM copied_pii.retained r WHERE NOT EXISTS (SELECT 1 FROM main.subject_key k WHERE k.key_id = r.key_id)
                    """) ?? 0
                return subjects + retained
            }
        }
    }
}

extension BackupFiles {
    /// Directories of backups being built are named with this prefix until they are whole.
    static let partialPrefix = ".partial-"
    /// A scrubbed key copy waits under this name until the manifest naming it is written.
    static let scrubbedControl = Vault.FileName.control + ".scrubbed"

    /// The ids in the erasure ledger of a copy of `control.sqlite`.
    static func ledgerIDs(inControlAt url: URL) throws -> [String] {
        try VaultDatabase.guardedSync {
            try DatabaseQueue(path: url.path, configuration: Vault.readOnlyConfiguration).read { db in
                try String.fetchAll(db, sql: "SELECT id FROM erasure_ledger ORDER BY at, id")
            }
        }
    }

    /// Removes backup directories a crash left half-built more than an hour ago.
    static func removeStalePartials(in root: URL) {
        StaleEntries.remove(prefix: partialPrefix, in: root)
    }

    /// The backup's manifest, signed by `key`, listing the four vault files, each a regular file
    /// matching it.
    /// - Throws: `CofferError` `tamperDetected` when the manifest lists other files or a file does
    ///   not match, the errors of ``manifest(in:key:)``.
    static func checkedManifest(in directory: URL, key: NoteVerifierKey) throws -> BackupManifest {
        let manifest = try manifest(in: directory, key: key)
        guard manifest.files.map(\.name).sorted() == BackupManifest.fileOrder.sorted() else {
            throw CofferError(.tamperDetected, "the backup \(manifest.id)'s signed manifest does not list the four vault files")
        }
        for file in manifest.files {
            let url = directory.appendingPathComponent(file.name)
            guard DirectoryLock.isRegularFile(url.path), try digest(of: url) == file else {
                throw CofferError(.tamperDetected, "the backup \(manifest.id)'s \(file.name) does not match its signed manifest")
            }
        }
        return manifest
    }

    /// Finishes a scrub a crash interrupted: a scrubbed key copy whose manifest was written is
    /// moved into place; one whose manifest was not is dropped (the old copy and manifest agree).
    static func finishInterruptedScrub(_ directory: URL) throws {
        let pending = directory.appendingPathComponent(scrubbedControl)
        guard FileManager.default.fileExists(atPath: pending.path) else { return }
        let manifest = try manifest(in: directory)
        let control = directory.appendingPathComponent(Vault.FileName.control)
        if let expected = manifest.files.first(where: { $0.name == Vault.FileName.control }), try digest(of: pending).sha256 == expected.sha256 {
            guard rename(pending.path, control.path) == 0 else { throw CofferError(.io, "cannot finish the scrub of \(directory.path)") }
        } else {
            try? FileManager.default.removeItem(at: pending)
        }
        try AtomicOutputFile.syncDirectory(directory.path)
    }

    /// Brings one backup up to `ledger` under its lock: its signed manifest and files are checked
    /// first; the keys destroyed since are removed from a copy of its `control.sqlite`, the
    /// manifest naming that copy is signed and written, then the copy replaces the old file.
    static func scrub(_ directory: URL, ledger: [LedgerEntry], key: NoteVerifierKey, log: AuditLog, at now: Int64) throws {
        try DirectoryLock.withLock(directory) {
            try finishInterruptedScrub(directory)
            let manifest = try checkedManifest(in: directory, key: key)
            let applied = Set(manifest.appliedLedger)
            guard ledger.contains(where: { !applied.contains($0.id) }) else { return }
            let control = directory.appendingPathComponent(Vault.FileName.control)
            let pending = directory.appendingPathComponent(scrubbedControl)
            try? FileManager.default.removeItem(at: pending)
            do { try FileManager.default.copyItem(at: control, to: pending) } catch {
                throw CofferError(.io, "cannot copy \(control.path) to scrub it: \(error.localizedDescription)")
            }
            let (done, _) = try BackupScrubber.apply(ledger, skipping: applied, toControlAt: pending.path)
            var updated = manifest
            updated.appliedLedger += done
            updated.scrubbedAt = now
            let digest = try digest(of: pending)
            updated.files = manifest.files.map { $0.name == Vault.FileName.control ? BackupManifest.File(name: $0.name, bytes: digest.bytes, sha256: digest.sha256) : $0 }
            try writeManifest(updated, in: directory, origin: log.origin, key: log.signingKey)
            guard rename(pending.path, control.path) == 0 else { throw CofferError(.io, "cannot put the scrubbed copy in place in \(directory.path)") }
            try AtomicOutputFile.syncDirectory(directory.path)
        }
    }
}
