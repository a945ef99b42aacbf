import Foundation
import GRDB
import Synchronization
import Testing
@testable import Coffer

extension ObjectReadStream {
    /// Every chunk, concatenated.
    func collect() async throws -> [UInt8] {
        var out: [UInt8] = []
        for try await chunk in self { out.append(contentsOf: chunk) }
        return out
    }
}

@Suite("Streaming reads")
struct ObjectStreamTests {
    @Test("a whole stream yields the object's bytes, at sizes around segment and batch boundaries",
          arguments: [0, 1, 4039, 4040, 4041, 4040 + 4080, 4040 + 4080 * 256 + 1, 4040 + 4080 * 257, multiBatchSize])
    func wholeStream(size: Int) async throws {
        try await withTestVault { t in
            let bytes = testBytes(size, seed: UInt64(size))
            let (id, version) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "r", bytes: bytes, context: .test)
            let stream = try await t.vault.stream(tenant: "acme", objectID: id, context: .test)
            #expect(stream.info == version)
            #expect(stream.range == 0..<Int64(size))
            var chunks = 0
            var out: [UInt8] = []
            for try await chunk in stream {
                #expect(!chunk.isEmpty)
                #expect(chunk.count <= ReadPlan.batchBytes + 4080, "a chunk is about one batch")
                out.append(contentsOf: chunk)
                chunks += 1
            }
            expectSameBytes(out, bytes)
            let segments = testLayout.segmentCount(plaintextSize: Int64(size))
            let batches = (segments + 256) / 257  // 257 segments of 4080 bytes make a 1 MiB batch
            #expect(chunks == batches || (chunks == batches - 1 && segments % 257 == 1), "one chunk per batch; \(chunks) for \(segments) segments")
        }
    }

    @Test("range streams yield exactly the slice and record exactly its size")
    func rangeStreams() async throws {
        try await withTestVault { t in
            let bytes = testBytes(multiBatchSize, seed: 7)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "r", bytes: bytes, context: .test)
            let size = Int64(bytes.count)
            let ranges: [ClosedRange<Int64>] = [0...0, 0...39, 5...4039, 4039...4040, 4040...8119, 100...(size - 1), (size - 1)...(size - 1),
                                                (size - 10)...Int64.max, 3_000_000...3_000_100, 1...(size + 50)]
            for range in ranges {
                let stream = try await t.vault.stream(tenant: "acme", objectID: id, range: range, context: .test)
                let upper = Int(min(range.upperBound, size - 1))
                expectSameBytes(try await stream.collect(), bytes[Int(range.lowerBound)...upper], "range \(range)")
                let record = try #require(try await t.vault.auditRecords(AuditQuery(objectID: id.rawValue, limit: 1), context: .testAuditor).first)
                #expect(record.bytes == Int64(upper) - range.lowerBound + 1, "range \(range)")
            }
        }
    }

    @Test("a bad range is refused before anything is recorded")
    func badRangeRecordsNothing() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "r", bytes: testBytes(100), context: .test)
            let before = try t.auditLogSize()
            await expectCofferError(.invalidArgument) { _ = try await t.vault.stream(tenant: "acme", objectID: id, range: 100...200, context: .test) }
            await expectCofferError(.invalidArgument) { _ = try await t.vault.stream(tenant: "acme", objectID: id, range: -9223372036854775800...3, context: .test) }
            let after = try t.auditLogSize()
            #expect(after == before)
        }
    }

    @Test("a paused stream holds no snapshot: writers commit and the WAL truncates while it waits, then it reads on", .embeddedFilesOnly)
    func pausedStreamPinsNothing() async throws {
        try await withTestVault { t in
            let bytes = testBytes(multiBatchSize, seed: 3)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "big", bytes: bytes, context: .test)
            let stream = try await t.vault.stream(tenant: "acme", objectID: id, context: .test)
            let iterator = stream.makeAsyncIterator()
            var out = try #require(try await iterator.next())
            // While the consumer sits on its first chunk: a new version of the same object, and a
            // checkpoint that must be able to truncate the WAL (a held snapshot would stop it).
            let newer = testBytes(20_000, seed: 4)
            _ = try await t.vault.put(tenant: "acme", kind: .testResult, name: "big", bytes: newer, context: .test)
            let checkpoint = try await t.vault.files!.content.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
            #expect(checkpoint.walFrameCount == 0 || checkpoint.checkpointedFrameCount == checkpoint.walFrameCount)
            let walSize = (try? FileManager.default.attributesOfItem(atPath: t.directory.appendingPathComponent("content.sqlite-wal").path)[.size] as? Int) ?? 0
            #expect(walSize == 0, "the WAL was truncated while the stream was paused")
            while let chunk = try await iterator.next() { out.append(contentsOf: chunk) }
            expectSameBytes(out, bytes, "the stream kept reading the version pinned when it was made")
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: id, context: .test), newer)
        }
    }

    @Test("a version deleted while it is streamed ends the stream with not-found, recorded as an error")
    func deletedWhileStreaming() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "big", bytes: testBytes(multiBatchSize, seed: 5), context: .test)
            let iterator = try await t.vault.stream(tenant: "acme", objectID: id, context: .test).makeAsyncIterator()
            _ = try #require(try await iterator.next())
            try await t.vault.delete(tenant: "acme", objectID: id, context: .test)
            let error = await expectCofferError(.notFound) { while try await iterator.next() != nil {} }
            #expect(error?.message.contains("deleted while it was being read") == true, "\(String(describing: error))")
            let records = try await t.vault.auditRecords(AuditQuery(objectID: id.rawValue, limit: 5), context: .testAuditor)
            #expect(records.first?.outcome == .error && records.first?.errorCode == "not-found")
        }
    }

    @Test("a tampered segment ends the stream with tamper-detected after only authenticated chunks", .segmentRowsOnly)
    func tamperedSegment() async throws {
        try await withTestVault { t in
            let bytes = testBytes(multiBatchSize, seed: 6)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "big", bytes: bytes, context: .test)
            let row = try #require(try await t.vault.versionRowID(objectID: id, version: 1))
            var segment = try await t.vault.segmentData(versionRowID: row, idx: 300)
            segment[100] ^= 1
            try await t.vault.setSegmentData(versionRowID: row, idx: 300, segment)
            var released: [UInt8] = []
            let error = await expectCofferError(.tamperDetected) {
                for try await chunk in try await t.vault.stream(tenant: "acme", objectID: id, context: .test) { released.append(contentsOf: chunk) }
            }
            #expect(error?.message.contains("segment 300") == true, "\(String(describing: error))")
            #expect(released.count < 300 * 4080 && bytes.starts(with: released), "only whole authenticated batches before it")
            let records = try await t.vault.auditRecords(AuditQuery(objectID: id.rawValue, limit: 1), context: .testAuditor)
            #expect(records.first?.errorCode == "tamper-detected")
        }
    }

    @Test("streams whose consumers do not read stop nothing: 64 concurrent small reads complete meanwhile")
    func stalledConsumersBlockNobody() async throws {
        try await withTestVault { t in
            let (big, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "big", bytes: testBytes(multiBatchSize, seed: 8), context: .test)
            var small: [(ObjectID, [UInt8])] = []
            for n in 0..<8 {
                let bytes = testBytes(4096, seed: UInt64(100 + n))
                small.append((try await t.vault.put(tenant: "acme", kind: .config, name: "s\(n)", bytes: bytes, context: .test).objectID, bytes))
            }
            // More stalled streams than reader connections and cooperative threads together.
            var stalled: [ObjectReadStream.Iterator] = []
            for _ in 0..<8 {
                let iterator = try await t.vault.stream(tenant: "acme", objectID: big, context: .test).makeAsyncIterator()
                _ = try await iterator.next()
                stalled.append(iterator)
            }
            let small0 = small
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<64 {
                    group.addTask {
                        let (id, bytes) = small0[n % small0.count]
                        expectSameBytes(try await t.vault.stream(tenant: "acme", objectID: id, context: .test).collect(), bytes)
                    }
                }
                try await group.waitForAll()
            }
            for iterator in stalled { #expect(try await iterator.next() != nil, "the stalled streams can still go on") }
        }
    }
}
