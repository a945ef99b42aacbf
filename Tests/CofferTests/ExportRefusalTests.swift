import Foundation
import Testing
@testable import Coffer
import CofferCrypto

// P18: bad input and callers without the right to export get a clear error, and nothing is
// written: no archive, no keyset, no temporary file.

@Suite("Export refusals")
struct ExportRefusalTests {
    /// Runs `body`, expects `code`, and checks that `directory` is as it was.
    private func expectNothingWritten(_ code: CofferError.Code, in directory: URL, _ comment: Comment,
                                      sourceLocation: SourceLocation = #_sourceLocation,
                                      _ body: () async throws -> Void) async throws -> CofferError? {
        let before = try fileContents(under: directory)
        let error = await expectCofferError(code, comment, sourceLocation: sourceLocation, body)
        #expect(try fileContents(under: directory) == before, "\(comment): files changed", sourceLocation: sourceLocation)
        return error
    }

    @Test("unknown subject, unknown tenant, malformed ids, an erased subject: clear errors and no file")
    func unknownTargets() async throws {
        try await withExportVault { t, out in
            let path = out.appendingPathComponent("x.zip").path
            let v = t.vault
            let noSubject = try await expectNothingWritten(.notFound, in: out, "unknown subject") {
                _ = try await v.export(.subject("subj_nobody"), to: path, context: .piiOfficer)
            }
            #expect(noSubject?.message == "no subject subj_nobody")
            let noTenant = try await expectNothingWritten(.unknownTenant, in: out, "unknown tenant") {
                _ = try await v.export(.tenant("ghost"), to: path, context: .piiOfficer)
            }
            #expect(noTenant?.message.contains("ghost") == true)
            _ = try await expectNothingWritten(.invalidArgument, in: out, "malformed tenant id") {
                _ = try await v.export(.tenant("../acme"), to: path, context: .piiOfficer)
            }
            let ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            _ = try await v.requestErasure(subject: ada, reason: "DSR 1", context: .piiOfficer)
            _ = try await v.runErasures(context: .piiOfficer)
            _ = try await expectNothingWritten(.notFound, in: out, "erased subject") {
                _ = try await v.export(.subject(ada), to: path, context: .piiOfficer)
            }
            let records = try await v.piiAuditRecords(AuditQuery(action: "export", limit: 10))
            #expect(records.map(\.outcome) == [.error, .error, .denied], "each attempt is recorded (a malformed id never is)")
        }
    }

    @Test("an existing archive or keyset is refused unless replaced; an unwritable directory is io; an empty path is refused")
    func outputs() async throws {
        try await withExportVault { t, out in
            let v = t.vault
            let path = out.appendingPathComponent("x.zip").path
            try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
            let exists = try await expectNothingWritten(.alreadyExists, in: out, "existing archive") {
                _ = try await v.export(.tenant("acme"), to: path, context: .piiOfficer)
            }
            #expect(exists?.message.contains("--force") == true)
            let keyset = out.appendingPathComponent("y.zip.keyset.json")
            try Data("old key".utf8).write(to: keyset)
            _ = try await expectNothingWritten(.alreadyExists, in: out, "existing keyset") {
                _ = try await v.export(.tenant("acme"), to: out.appendingPathComponent("y.zip").path, options: ExportOptions(encrypt: true),
                                       context: .piiOfficer)
            }
            // The parent is a regular file: no directory to write in, whoever runs the tests (root included).
            let blocked = out.appendingPathComponent("x.zip/inside.zip").path
            let io = try await expectNothingWritten(.io, in: out, "unwritable directory") {
                _ = try await v.export(.tenant("acme"), to: blocked, context: .piiOfficer)
            }
            #expect(io?.message.contains("x.zip/inside.zip") == true)
            _ = try await expectNothingWritten(.invalidArgument, in: out, "empty path") {
                _ = try await v.export(.tenant("acme"), to: "", context: .piiOfficer)
            }

            let replaced = try await v.export(.tenant("acme"), to: path, options: ExportOptions(encrypt: true, replaceExisting: true),
                                              context: .piiOfficer)
            #expect(replaced.keysetPath == path + ".keyset.json")
            _ = try exportManifest(try exportEntries(path, aead: try exportKey(keyset: path + ".keyset.json")))
            #expect(try exportDirectoryListing(out) == ["x.zip", "x.zip.keyset.json", "y.zip.keyset.json"])
        }
    }

    @Test("only a privacy officer exports: reporting, service and support are refused, and so is a missing justification")
    func whoMayExport() async throws {
        try await withExportVault { t, out in
            let v = t.vault
            let ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let path = out.appendingPathComponent("x.zip").path
            let reporting = try AccessContext(actor: exportReporter, purpose: .audit, justification: "quarterly report")
            for scope in [ExportScope.tenant("acme"), .subject(ada)] {
                for (context, name) in [(reporting, "reporting"), (AccessContext.piiService, "service"), (.piiSupport, "support")] {
                    _ = try await expectNothingWritten(.accessDenied, in: out, "\(name) exporting \(scope)") {
                        _ = try await v.export(scope, to: path, context: context)
                    }
                }
                let unjustified = try AccessContext(actor: PIIPrincipal.officer, purpose: .subjectRequest)
                _ = try await expectNothingWritten(.purposeMissing, in: out, "no justification, \(scope)") {
                    _ = try await v.export(scope, to: path, context: unjustified)
                }
            }
            let denied = try await v.piiAuditRecords(AuditQuery(action: "export", outcome: .denied, limit: 100))
            #expect(denied.contains { $0.actor == exportReporter }, "the refusal is recorded")
            #expect(try await v.piiAuditRecords(AuditQuery(actor: exportReporter, action: "read", limit: 10)).isEmpty, "nothing was read")

            // The same officer for a legal obligation may.
            let legal = try await v.export(.tenant("acme"), to: path, context: .piiOfficerLegal)
            #expect(legal.subjects == 1)
        }
    }

    @Test("fail closed: with the log gone or the vault closed, an export is refused with audit-unavailable and writes nothing", .embeddedFilesOnly)
    func failClosed() async throws {
        try await withExportVault { t, out in
            let v = t.vault
            let ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            _ = try await v.put(tenant: "acme", kind: .config, name: "c", bytes: [1, 2, 3], context: .test)
            try FileManager.default.removeItem(at: t.auditURL)
            for scope in [ExportScope.tenant("acme"), .subject(ada)] {
                _ = try await expectNothingWritten(.auditUnavailable, in: out, "log deleted, \(scope)") {
                    _ = try await v.export(scope, to: out.appendingPathComponent("x.zip").path, options: ExportOptions(encrypt: true),
                                           context: .piiOfficer)
                }
            }
            try? v.close()
            _ = try await expectNothingWritten(.auditUnavailable, in: out, "after close") {
                _ = try await v.export(.tenant("acme"), to: out.appendingPathComponent("x.zip").path, context: .piiOfficer)
            }
        }
    }

    @Test("a full disk under the archive ends the export with io and leaves nothing there", .enabled(if: canMount, "needs root to mount a tmpfs"))
    func fullDisk() async throws {
        try await withExportVault { t, out in
            _ = try await t.vault.put(tenant: "acme", kind: .testResult, name: "big", bytes: testBytes(3 << 20, seed: 5), context: .test)
            let disk = out.appendingPathComponent("disk")
            try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
            try mount(["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", disk.path])
            defer { unmount(disk.path) }
            for encrypt in [false, true] {
                await expectCofferError(.io, "encrypt: \(encrypt)") {
                    _ = try await t.vault.export(.tenant("acme"), to: disk.appendingPathComponent("x.zip").path,
                                                 options: ExportOptions(encrypt: encrypt), context: .piiOfficer)
                }
                #expect(try exportDirectoryListing(disk).isEmpty, "no partial archive or keyset")
            }
        }
    }

    @Test("a cancelled export stops and leaves nothing")
    func cancelled() async throws {
        try await withExportVault { t, out in
            _ = try await t.vault.put(tenant: "acme", kind: .testResult, name: "big", bytes: testBytes(multiBatchSize, seed: 6), context: .test)
            let vault = t.vault
            let path = out.appendingPathComponent("x.zip").path
            let export = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await vault.export(.tenant("acme"), to: path, context: .piiOfficer)
            }
            await #expect(throws: CancellationError.self) { _ = try await export.value }
            #expect(try exportDirectoryListing(out).isEmpty)
        }
    }
}
