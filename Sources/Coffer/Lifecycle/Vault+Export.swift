import CofferCrypto
import Foundation

extension Vault {
    /// Exports a data subject or a whole tenant as one ZIP archive (portability, P18).
    ///
    /// The archive holds, for a tenant, every object's latest version under
    /// `objects/KIND/OBJECTID-NAME` (byte for byte), the catalogue (`records/objects.json`,
    /// `.csv`), every subject that is not erased (`records/subjects.json`, `subjects.csv`,
    /// `consents.csv`, `identifiers.csv`) and the tenant's access history
    /// (`access-history.json`, `.csv`); for a subject, their record (`records/subject.json`,
    /// `subject.csv`, `consents.csv`, `identifiers.csv`) and the access history about them. Last
    /// comes `manifest.json` (``ExportManifest``): every other file with its SHA-256 and size.
    ///
    /// The export is decided and recorded first (action `export`: on content and personal data
    /// for a tenant, on the subject's personal data for a subject; a privacy officer, purpose
    /// `subject-request` or `legal`, with a justification). Then every object, every subject and
    /// every page of the log is read through the ordinary gated calls, each recorded in its own
    /// right, so nothing leaves without its record. Objects stream through with bounded memory
    /// and no plaintext reaches a temporary file; the archive is written under a private
    /// temporary name beside `path` and appears only when complete.
    ///
    /// With ``ExportOptions/encrypt``, every file (the manifest too) is sealed in Tink's
    /// AES-GCM-HKDF streaming format (1 MiB segments, empty associated data) under one fresh
    /// random key, under the same names; the manifest's hashes are of the plaintext. The key is
    /// written only to the Tink JSON keyset `path + ".keyset.json"` (mode 0600) beside the
    /// archive: lose that file and the archive cannot be opened; whoever has it can open it.
    /// - Parameters:
    ///   - scope: The subject or tenant.
    ///   - path: The archive to write.
    ///   - options: Encryption, replacing an existing file, progress.
    ///   - context: Who exports and why.
    /// - Returns: What was written.
    /// - Throws: `CofferError` `alreadyExists` (the archive or keyset exists, without
    ///   ``ExportOptions/replaceExisting``), `io` (the directory cannot be written, a write
    ///   failed), `notFound` (no such subject, or an erased one), `unknownTenant`,
    ///   `accessDenied`, `purposeMissing`, `auditUnavailable`, `tamperDetected`;
    ///   `CancellationError` when the task is cancelled. On any failure nothing is left at `path`
    ///   or beside it.
    public func export(_ scope: ExportScope, to path: String, options: ExportOptions = ExportOptions(),
                       context: AccessContext) async throws -> ExportSummary {
        switch scope {
        case .tenant(let tenant): try tenant.validate()
        case .subject(let subject): try IdentifierRules.validateReference(subject.rawValue, as: "subject id")
        }
        let output = try ExportOutput(path: path, encrypt: options.encrypt, replacing: options.replaceExisting)
        do {
            switch scope {
            case .subject(let subject):
                return try await guardedPII(context, .export, subject: subject) { state in
                    guard let state else { throw CofferError(.notFound, "no subject \(subject)") }
                    return try await ExportRun(vault: self, context: context, options: options, output: output,
                                               tenant: state.tenant, subject: subject).run()
                }
            case .tenant(let tenant):
                let request = AccessRequest(action: .export, dataClass: .content, tenant: tenant)
                // An unregistered tenant is recorded as an error, before any decision (a closed
                // vault is audit-unavailable first, as for every access).
                return try await guarded(context, request, resolve: { _ in
                    try accessLog.checkOpen()
                    try administration.requireTenant(tenant)
                }) { _ in
                    try await guardedPII(context, .export, tenant: tenant) { _ in
                        try await ExportRun(vault: self, context: context, options: options, output: output,
                                            tenant: tenant, subject: nil).run()
                    }
                }
            }
        } catch {
            output.discard()
            throw error
        }
    }
}
