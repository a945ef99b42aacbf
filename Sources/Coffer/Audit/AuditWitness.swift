import CofferCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A directory outside the vault that holds the newest signed checkpoint of the access log, as
/// a C2SP checkpoint note in the file `checkpoint`. Whoever can change the vault's files but not
/// this directory cannot cut, reset or rewrite the log's witnessed history unnoticed: the vault
/// checks at open that its log extends this checkpoint, and `coffer audit verify --public-key
/// --checkpoint` checks the whole history against a copy of it.
///
/// The file only moves forward: a checkpoint smaller than the one there is refused, so a
/// truncated log can never lower what was witnessed.
struct AuditWitness: Sendable {
    /// The directory.
    let directory: URL

    /// The file holding the newest checkpoint.
    static let fileName = "checkpoint"

    var file: URL { directory.appendingPathComponent(Self.fileName) }

    /// The newest witnessed checkpoint, or nil when none was written yet.
    /// - Throws: `CofferError` `tamperDetected` when the file is there but not a checkpoint note,
    ///   `io` when it cannot be read.
    func latest() throws -> CheckpointNote? {
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw CofferError(.io, "cannot read the witness checkpoint \(file.path): \(error.localizedDescription)")
        }
        do {
            return try CheckpointNote(parsing: text)
        } catch let error as CofferError {
            throw CofferError(.tamperDetected, "the witness checkpoint \(file.path) is damaged: \(error.message)")
        }
    }

    /// Writes `note` as the newest checkpoint, durably (file and directory synced), unless the
    /// witness already holds a larger one.
    /// - Throws: `CofferError` `tamperDetected` when the witness holds a larger tree (the log is
    ///   behind what was witnessed), `io` when the directory cannot be written.
    func record(_ note: CheckpointNote) throws {
        if let current = try latest(), current.treeSize > note.treeSize {
            throw CofferError(.tamperDetected, "the witness \(file.path) holds a checkpoint of \(current.treeSize) records, more than the log's \(note.treeSize): records were removed from the log")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw CofferError(.io, "cannot create the witness directory \(directory.path): \(error.localizedDescription)")
        }
        let output = try AtomicOutputFile(path: file.path)
        let bytes = Array(note.encoded.utf8)
        try bytes.withUnsafeBytes { try FileDescriptorIO.writeAll(output.fd, $0) }
        try output.commit()
        try AtomicOutputFile.syncDirectory(directory.path)
    }
}
