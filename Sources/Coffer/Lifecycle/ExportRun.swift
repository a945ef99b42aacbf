import CofferCrypto
import Foundation

/// One export under way, after its decision was recorded: it reads everything through the
/// vault's gated calls (each object, each subject and each page of the log is a recorded access
/// of its own), writes the files into the archive, then the manifest, and commits the output.
final class ExportRun {
    private let vault: Vault
    private let context: AccessContext
    private let options: ExportOptions
    private let output: ExportOutput
    private let tenant: TenantID
    private let subject: SubjectID?
    private let key: SecureBytes?
    private let archive: ExportArchive
    private let createdAt: Int64
    private var files: [ExportManifest.File] = []
    private var stored: [(path: String, storedSize: Int64)] = []
    private var progress = ExportProgress(files: 0, bytes: 0, objectsTotal: 0, objectsDone: 0, currentFile: nil)
    private var subjects = 0
    private var accessRecords = 0

    /// Segment size of an encrypted export's streams (Tink's `AES256_GCM_HKDF_1MB`).
    static let segmentSize = SegmentLayout.defaultSegmentSize
    /// Bytes of an object between two progress reports.
    static let progressInterval: Int64 = 64 << 20

    init(vault: Vault, context: AccessContext, options: ExportOptions, output: ExportOutput, tenant: TenantID, subject: SubjectID?) throws {
        self.vault = vault
        self.context = context
        self.options = options
        self.output = output
        self.tenant = tenant
        self.subject = subject
        createdAt = vault.administration.clock.now()
        // One fresh key per export; the keyset file is the only place it is kept.
        key = options.encrypt ? try SecureBytes.random(count: 32) : nil
        let sealing = try key.map { try StreamingAEAD(key: $0, segmentSize: Self.segmentSize) }
        archive = ExportArchive(path: output.archiveTemporaryPath, sealing: sealing,
                                date: Date(timeIntervalSince1970: Double(createdAt) / 1000))
    }

    /// Writes everything and commits the output.
    /// - Returns: What was written.
    func run() async throws -> ExportSummary {
        do {
            if let subject {
                try await writeSubject(subject)
            } else {
                try await writeTenant()
            }
            try await writeHistory()
            try await writeManifest()
            try await archive.finish()
        } catch {
            archive.abandon(error)
            throw error
        }
        let (path, stored) = (output.archiveTemporaryPath, self.stored)
        try await BlockingPool.shared.run { try ExportArchive.verify(path: path, files: stored) }
        if let key, let keyset = output.keyset { try ExportKeyset.write(key: key, segmentSize: Self.segmentSize, to: keyset) }
        let archiveBytes = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        try output.commit()
        return ExportSummary(path: output.path, keysetPath: output.keysetPath, tenant: tenant, subject: subject, files: files.count + 1,
                             bytes: progress.bytes, archiveBytes: archiveBytes, objects: progress.objectsDone, subjects: subjects,
                             accessRecords: accessRecords, encrypted: key != nil)
    }

    // MARK: - Files

    private func add(_ path: String, bytes: [UInt8]) async throws {
        progress.currentFile = path
        record(try await archive.add(path, bytes: bytes))
    }

    /// Notes a file written: in the manifest (unless it is the manifest), in the read-back check, in the progress.
    private func record(_ file: ExportedFile, object: ObjectInfo? = nil, version: Int? = nil, listed: Bool = true) {
        if listed {
            files.append(ExportManifest.File(path: file.path, sha256: file.sha256, size: file.size, objectID: object?.id,
                                             kind: object?.kind, version: version, name: object?.name))
        }
        stored.append((file.path, archive.sealing?.layout.ciphertextSize(plaintextSize: file.size) ?? file.size))
        progress.files += 1
        progress.bytes += object == nil ? file.size : 0
        progress.currentFile = nil
        options.progress?(progress)
    }

    private func writeSubject(_ id: SubjectID) async throws {
        let record = try await vault.subject(id, context: context)
        subjects = 1
        try await add("records/subject.json", bytes: try ExportRecords.json(record))
        try await writeSubjectTables([record], main: "records/subject.csv")
    }

    private func writeSubjectTables(_ records: [SubjectRecord], main: String) async throws {
        try await add(main, bytes: ExportRecords.subjectsCSV(records))
        try await add("records/consents.csv", bytes: ExportRecords.consentsCSV(records))
        try await add("records/identifiers.csv", bytes: ExportRecords.identifiersCSV(records))
    }

    private func writeTenant() async throws {
        let objects = try await catalogue()
        progress.objectsTotal = objects.count
        for object in objects {
            try Task.checkCancellation()
            try await writeObject(object)
        }
        try await add("records/objects.json", bytes: try ExportRecords.json(objects.map(ExportRecords.CatalogEntry.init)))
        try await add("records/objects.csv", bytes: ExportRecords.objectsCSV(objects))
        var records: [SubjectRecord] = []
        for id in try await vault.people.store.subjects(tenant: tenant) {
            do {
                records.append(try await vault.subject(id, context: context))
            } catch let error as CofferError where error.code == .notFound {
                continue  // erased since it was listed
            }
        }
        subjects = records.count
        try await add("records/subjects.json", bytes: try ExportRecords.json(records))
        try await writeSubjectTables(records, main: "records/subjects.csv")
    }

    /// Every object of the tenant, by kind and id.
    private func catalogue() async throws -> [ObjectInfo] {
        var objects: [ObjectID: ObjectInfo] = [:]
        var cursor: String?
        repeat {
            let page = try await vault.list(tenant: tenant, filter: ObjectFilter(limit: 1000, cursor: cursor), context: context)
            for object in page.objects where objects[object.id] == nil { objects[object.id] = object }
            cursor = page.nextCursor
        } while cursor != nil
        return objects.values.sorted { ($0.kind.code, $0.id.rawValue) < ($1.kind.code, $1.id.rawValue) }
    }

    /// One object's latest version, streamed from the vault into the archive.
    private func writeObject(_ object: ObjectInfo) async throws {
        let stream = try await vault.stream(tenant: tenant, objectID: object.id, version: object.latestVersion, context: context)
        let path = ExportRecords.objectPath(object)
        progress.currentFile = path
        let file = try await archive.add(path, size: stream.info.size) { sink in
            var sinceReport: Int64 = 0
            for try await chunk in stream {
                try Task.checkCancellation()
                try await sink.send(chunk)
                progress.bytes += Int64(chunk.count)
                sinceReport += Int64(chunk.count)
                if sinceReport >= Self.progressInterval {
                    sinceReport = 0
                    options.progress?(progress)
                }
            }
        }
        progress.objectsDone += 1
        record(file, object: object, version: stream.info.version)
    }

    private func writeHistory() async throws {
        let query = subject.map { AuditQuery(subject: $0) } ?? AuditQuery(tenant: tenant)
        let history = ExportHistory(vault: vault, context: context, query: query)
        let plan = try await history.plan()
        accessRecords = plan.records
        progress.currentFile = "access-history.json"
        record(try await archive.add("access-history.json", size: plan.jsonBytes) { try await history.writeJSON(plan, to: $0) })
        progress.currentFile = "access-history.csv"
        record(try await archive.add("access-history.csv", size: plan.csvBytes) { try await history.writeCSV(plan, to: $0) })
    }

    private func writeManifest() async throws {
        let encryption = key.map { _ in
            ExportManifest.Encryption(format: "tink-aes-gcm-hkdf-streaming", segmentSize: Self.segmentSize, associatedData: "",
                                      keyset: (ExportOutput.keysetPath(for: output.path) as NSString).lastPathComponent)
        }
        let manifest = ExportManifest(format: "coffer-export/v1", createdAt: createdAt, tenant: tenant, subject: subject,
                                      encryption: encryption, files: files)
        let bytes = try ExportRecords.json(manifest)
        progress.currentFile = "manifest.json"
        record(try await archive.add("manifest.json", bytes: bytes), listed: false)
    }
}
