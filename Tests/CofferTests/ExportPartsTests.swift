import Foundation
import Testing
import ZIPFoundation
@testable import Coffer
import CofferCrypto

// The parts of an export on their own: safe names, the hand-encoded Tink key, the paged access
// history, the thread channel, and an entry past 4 GiB (ZIP64, opt-in).

@Suite("Export parts")
struct ExportPartsTests {
    @Test("object names become one safe path component", arguments: [
        ("report.csv", "report.csv"), ("../../etc/passwd", "______etc_passwd"), ("/abs/path", "_abs_path"),
        ("a\\b", "a_b"), ("...", "__."), ("r\u{202E}txt.exe", "r_txt.exe"), ("x\u{200B}y", "x_y"), ("", "object"),
        ("café ☕", "café ☕"),
    ])
    func safeNames(name: String, expected: String) {
        #expect(ExportRecords.safeName(name) == expected)
    }

    @Test("a long name is cut to 120 UTF-8 bytes on a character boundary")
    func longNames() {
        let cut = ExportRecords.safeName(String(repeating: "é", count: 100))
        #expect(cut.utf8.count == 120 && cut == String(repeating: "é", count: 60))
    }

    @Test("the keyset's key value is Tink's own AesGcmHkdfStreamingKey encoding, and its base64 is Foundation's")
    func keysetEncoding() throws {
        let key = SecureBytes(copying: [UInt8](repeating: 0, count: 32))
        // What tink.proto.aes_gcm_hkdf_streaming_pb2 serialises for version 0, 1 MiB segments, 32, SHA256.
        let tink = "120808808040102018031a20" + String(repeating: "00", count: 32)
        #expect(try ExportKeyset.keyProto(key: key, segmentSize: 1 << 20).withUnsafeBytes { Array($0) }.hexString == tink)
        #expect(try ExportKeyset.keyProto(key: key, segmentSize: 4096).withUnsafeBytes { Array($0.prefix(7)) }.hexString == "12070880201020")
        for n in 0..<70 {
            let bytes = testBytes(n, seed: UInt64(n))
            var out = [UInt8](repeating: 0, count: (n + 2) / 3 * 4)
            bytes.withUnsafeBytes { input in out.withUnsafeMutableBytes { ExportKeyset.base64(input, into: $0) } }
            #expect(String(decoding: out, as: UTF8.self) == Data(bytes).base64EncodedString(), "\(n) bytes")
        }
        let json = try ExportKeyset.json(key: key, segmentSize: 1 << 20, keyID: 42).withUnsafeBytes { Data($0) }
        let parsed = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(parsed["primaryKeyId"] as? Int == 42)
    }

    @Test("the access history read in pages of 3 is the log's records, oldest first, whatever the page boundaries")
    func pagedHistory() async throws {
        try await withExportVault { t, out in
            for n in 0..<10 { _ = try await t.vault.put(tenant: "acme", kind: .config, name: "c\(n)", bytes: [UInt8(n)], context: .test) }
            let expected = try await t.vault.piiAuditRecords(AuditQuery(tenant: "acme", limit: 1000))
            let file = try AtomicOutputFile(path: out.appendingPathComponent("h.zip").path)
            try ExportArchive.prepare(file)
            let archive = ExportArchive(path: try #require(file.temporaryPath), sealing: nil, date: Date())
            let history = ExportHistory(vault: t.vault, context: .piiOfficer, query: AuditQuery(tenant: "acme"), pageSize: 3)
            let plan = try await history.plan()
            #expect(plan.records == expected.count && plan.cursors.count == (expected.count + 2) / 3)
            let json = try await archive.add("h.json", size: plan.jsonBytes) { try await history.writeJSON(plan, to: $0) }
            let csv = try await archive.add("h.csv", size: plan.csvBytes) { try await history.writeCSV(plan, to: $0) }
            try await archive.finish()
            try file.commit()
            let entries = try exportEntries(file.path)
            #expect(try SHA256.hash(entries[0].bytes).hexString == json.sha256 && Int64(entries[1].bytes.count) == csv.size)
            #expect(try JSONDecoder().decode([AuditRecord].self, from: Data(entries[0].bytes)) == expected)
            let lines = try AuditExport.lines(expected, format: .csv)
            #expect(String(decoding: entries[1].bytes, as: UTF8.self) == lines.map { $0 + "\n" }.joined())
        }
    }

    @Test("a file given fewer or more bytes than it announced fails the archive; nothing is committed")
    func announcedSizes() async throws {
        try await withTemporaryPath { out in
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            for (announced, sent) in [(10, 9), (10, 11)] {
                let file = try AtomicOutputFile(path: out.appendingPathComponent("x.zip").path)
                try ExportArchive.prepare(file)
                let archive = ExportArchive(path: try #require(file.temporaryPath), sealing: nil, date: Date())
                await expectCofferError(.io, "\(sent) of \(announced) bytes") {
                    _ = try await archive.add("f", size: Int64(announced)) { try await $0.send([UInt8](repeating: 1, count: sent)) }
                }
                archive.abandon(CofferError(.io, "test"))
                file.discard()
            }
            #expect(try exportDirectoryListing(out).isEmpty)
        }
    }

    @Test("the channel holds at most its capacity; a failure reaches a waiting sender and the receiver")
    func channel() async throws {
        let channel = ThreadChannel<Int>(capacity: 2)
        try await channel.send(1)
        let sent = ExportProgressLog()
        let second = Task {
            try await channel.send(2)  // the queue is full now: this waits for room
            sent.append(ExportProgress(files: 2, bytes: 0, objectsTotal: 0, objectsDone: 0, currentFile: nil))
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(sent.all.isEmpty, "a sender waits while the queue is full")
        #expect(try channel.receive() == 1)
        try await second.value
        #expect(sent.all.count == 1)
        #expect(try channel.receive() == 2)
        let waiting = Task { try await channel.send(3); try await channel.send(4) }
        try await Task.sleep(for: .milliseconds(100))
        channel.fail(CofferError(.io, "writer failed"))
        await expectCofferError(.io) { try await waiting.value }
        #expect(throws: CofferError.self) { _ = try channel.receive() }
    }

    @Test("the channel lets go of what the receiver took, while later elements still wait (memory stays bounded)")
    func channelReleases() async throws {
        final class Tracked: Sendable {}
        let channel = ThreadChannel<Tracked>(capacity: 4)
        weak var first: Tracked?
        do {
            let element = Tracked()
            first = element
            try await channel.send(element)
        }
        try await channel.send(Tracked())
        _ = try channel.receive()
        #expect(first == nil, "a taken element is not kept by the queue")
        #expect(try channel.receive() != nil)
    }

    @Test("an entry past 4 GiB is written with ZIP64 records and reads back (opt-in: COFFER_ZIP64_TEST=1, needs 4.1 GB of disk)",
          .enabled(if: ProcessInfo.processInfo.environment["COFFER_ZIP64_TEST"] == "1"))
    func zip64() async throws {
        try await withTemporaryPath { out in
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let file = try AtomicOutputFile(path: out.appendingPathComponent("big.zip").path)
            try ExportArchive.prepare(file)
            let archive = ExportArchive(path: try #require(file.temporaryPath), sealing: nil, date: Date())
            let size = Int64(4 << 30) + (1 << 20) + 7
            let chunk = [UInt8](repeating: 0x5A, count: 1 << 20)
            let hasher = try SHA256.Hasher()
            let big = try await archive.add("big.bin", size: size) { sink in
                var left = size
                while left > 0 {
                    let piece = left >= Int64(chunk.count) ? chunk : Array(chunk.prefix(Int(left)))
                    hasher.update(piece)
                    try await sink.send(piece)
                    left -= Int64(piece.count)
                }
            }
            let tail = Array("after the big one\n".utf8)
            _ = try await archive.add("after.txt", bytes: tail)
            try await archive.finish()
            try ExportArchive.verify(path: try #require(file.temporaryPath), files: [("big.bin", size), ("after.txt", Int64(tail.count))])
            try file.commit()
            #expect(big.sha256 == (try hasher.finalize()).hexString)
            let reader = try Archive(url: URL(fileURLWithPath: file.path), accessMode: .read, pathEncoding: nil)
            let read = try SHA256.Hasher()
            _ = try reader.extract(try #require(reader["big.bin"])) { read.update($0) }  // checks the CRC too
            #expect(try read.finalize().hexString == big.sha256)
            var after: [UInt8] = []
            _ = try reader.extract(try #require(reader["after.txt"])) { after.append(contentsOf: $0) }
            #expect(after == tail)
        }
    }
}
