import Foundation
import Testing
@testable import Coffer
import CofferCrypto

/// Sizes at and around the segment boundaries of a 4096-byte segment (4040 plaintext bytes in
/// segment 0, 4080 in later ones), and one that spans more than one encryptor batch.
private let boundarySizes = [0, 1, 4039, 4040, 4041, 8120, 8121, multiBatchSize]

@Suite("Store round trips")
struct StoreRoundTripTests {
    @Test("put then readAll returns the bytes; sizes, segment rows and digest are as the layout says",
          .segmentRowsOnly, arguments: boundarySizes)
    func putReadAll(size: Int) async throws {
        try await withTestVault { t in
            let plaintext = testBytes(size, seed: UInt64(size))
            let (objectID, info) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "script-\(size)",
                                                         bytes: plaintext, context: .test)
            #expect(info.version == 1)
            #expect(info.size == Int64(size))
            #expect(info.segmentSize == testSegmentSize)
            #expect(info.storedSize == testLayout.ciphertextSize(plaintextSize: Int64(size)))
            #expect(info.digest.count == 64)

            let rowID = try #require(try await t.vault.versionRowID(objectID: objectID, version: 1))
            #expect(try await t.vault.segmentRowCount(versionRowID: rowID) == testLayout.segmentCount(plaintextSize: Int64(size)))
            let stored = try await t.vault.contentCount("SELECT sum(length(data)) FROM segment WHERE version_id = ?", [rowID])
            #expect(Int64(stored) == info.storedSize)
            // Every row but the last is one whole segment (row 0 includes the 40-byte header).
            let short = try await t.vault.contentCount(
                "SELECT count(*) FROM segment WHERE version_id = ? AND idx < (SELECT max(idx) FROM segment WHERE version_id = ?) AND length(data) != ?",
                [rowID, rowID, testSegmentSize])
            #expect(short == 0)

            let back = try await t.vault.readAll(tenant: "acme", objectID: objectID, context: .test)
            expectSameBytes(back, plaintext, "size \(size)")
            let stat = try await t.vault.stat(tenant: "acme", objectID: objectID, context: .test)
            #expect(stat.versions == [info])
        }
    }

    @Test("the writer accepts pieces of any size", arguments: [1, 7, 4096, 100_000], [4041, 8121, 50_000])
    func writerPieces(piece: Int, size: Int) async throws {
        try await withTestVault { t in
            let plaintext = testBytes(size, seed: UInt64(piece * 31 + size))
            let writer = try await t.vault.makeWriter(tenant: "acme", kind: .testResult, name: "pieces", context: .test)
            try await write(plaintext, to: writer, piece: piece)
            let info = try await writer.commit()
            #expect(info.size == Int64(size))
            #expect(info.storedSize == testLayout.ciphertextSize(plaintextSize: Int64(size)))
            let back = try await t.vault.readAll(tenant: "acme", objectID: writer.objectID, context: .test)
            expectSameBytes(back, plaintext, "piece \(piece), size \(size)")
        }
    }

    @Test("the writer round-trips a multi-batch object written in pieces", arguments: [4096, 100_000])
    func writerMultiBatch(piece: Int) async throws {
        try await withTestVault { t in
            let plaintext = testBytes(multiBatchSize, seed: 77)
            let writer = try await t.vault.makeWriter(tenant: "acme", kind: .testResult, name: "big", context: .test)
            try await write(plaintext, to: writer, piece: piece)
            let info = try await writer.commit()
            #expect(info.size == Int64(multiBatchSize))
            let back = try await t.vault.readAll(tenant: "acme", objectID: writer.objectID, context: .test)
            expectSameBytes(back, plaintext)
        }
    }

    @Test("the same content gives the same digest whichever way it was written")
    func digestIndependentOfPieces() async throws {
        try await withTestVault { t in
            let plaintext = testBytes(20_000, seed: 5)
            let whole = try await t.vault.put(tenant: "acme", kind: .testResult, name: "a", bytes: plaintext, context: .test)
            let writer = try await t.vault.makeWriter(tenant: "acme", kind: .testResult, name: "b", context: .test)
            try await write(plaintext, to: writer, piece: 7)
            let pieced = try await writer.commit()
            #expect(whole.version.digest == pieced.digest)
            var changed = plaintext
            changed[19_999] ^= 1
            let other = try await t.vault.put(tenant: "acme", kind: .testResult, name: "c", bytes: changed, context: .test)
            #expect(other.version.digest != whole.version.digest)
        }
    }

    @Test("put(contentsOf:) and write(contentsOf:) take an AsyncSequence",
          arguments: [(0, 1), (4041, 7), (8121, 4096), (50_000, 100_000), (multiBatchSize, 100_000)])
    func asyncSequence(size: Int, piece: Int) async throws {
        try await withTestVault { t in
            let plaintext = testBytes(size, seed: UInt64(size) ^ 0xA5)
            let put = try await t.vault.put(tenant: "acme", kind: .runTelemetry, name: "stream",
                                            contentsOf: pieces(plaintext, piece: piece), context: .test)
            #expect(put.version.size == Int64(size))
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: put.objectID, context: .test), plaintext)

            let writer = try await t.vault.makeWriter(tenant: "acme", kind: .runTelemetry, name: "stream", context: .test)
            try await writer.write(contentsOf: pieces(plaintext, piece: piece))
            let second = try await writer.commit()
            #expect(writer.objectID == put.objectID)
            #expect(second.version == 2)
            #expect(second.digest == put.version.digest)
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: put.objectID, version: 2, context: .test), plaintext)
        }
    }

    @Test("write(readingFrom:) stores a file's bytes")
    func writeFromDescriptor() async throws {
        try await withTestVault { t in
            let plaintext = testBytes(3 * 4080 + 123, seed: 9)
            let file = t.directory.appendingPathComponent("input.bin")
            try Data(plaintext).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let fd = open(file.path, O_RDONLY)
            try #require(fd >= 0)
            defer { close(fd) }
            let writer = try await t.vault.makeWriter(tenant: "acme", kind: .config, name: "from-fd", context: .test)
            #expect(try await writer.write(readingFrom: fd) == Int64(plaintext.count))
            _ = try await writer.commit()
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: writer.objectID, context: .test), plaintext)
        }
    }

    @Test("range reads return exactly the plaintext slice, both ends inclusive")
    func rangeReads() async throws {
        try await withTestVault { t in
            let size = 4040 + 4080 * 3 + 100  // five segments, the last one short
            let plaintext = testBytes(size, seed: 3)
            let (objectID, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "ranges", bytes: plaintext,
                                                      context: .test)
            let last = Int64(size - 1)
            var ranges: [ClosedRange<Int64>] = [0...0, last...last, 0...last, 0...1, (last - 1)...last, 1...(last - 1)]
            // Every segment boundary: the bytes either side, alone and together.
            for segment in 1..<testLayout.segmentCount(plaintextSize: Int64(size)) {
                let b = testLayout.plaintextOffset(ofSegment: segment)
                ranges += [(b - 1)...(b - 1), b...b, (b - 1)...b, (b - 2)...(b + 2), b...(b + 4079), (b - 4040)...(b - 1)]
            }
            // Whole segments, and spans across several.
            ranges += [0...4039, 4040...8119, 0...8120, 4039...12200, 100...(last - 100)]
            var seeded = SeededBytes(seed: 42)
            for _ in 0..<40 {
                let a = Int64(seeded.next() % UInt64(size))
                let length = Int64(seeded.next() % 9000)
                ranges.append(a...min(last, a + length))
            }
            for range in ranges {
                let got = try await t.vault.readRange(tenant: "acme", objectID: objectID, range)
                expectSameBytes(got, plaintext[Int(range.lowerBound)...Int(min(range.upperBound, last))], "range \(range)")
            }
            // A range running past the end is clamped to the object.
            let tail = try await t.vault.readRange(tenant: "acme", objectID: objectID, (last - 9)...(last + 1000))
            expectSameBytes(tail, plaintext[(size - 10)...], "clamped tail")
        }
    }

    @Test("range reads work across a multi-batch object")
    func rangeReadsLargeObject() async throws {
        try await withTestVault { t in
            let plaintext = testBytes(multiBatchSize, seed: 11)
            let (objectID, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "big", bytes: plaintext,
                                                      context: .test)
            let last = Int64(multiBatchSize - 1)
            let b2048 = testLayout.plaintextOffset(ofSegment: 2048)
            for range: ClosedRange<Int64> in [0...0, last...last, (last - 4)...last, (b2048 - 3)...(b2048 + 3),
                                              1_000_000...1_200_000, (last - 4085)...last] {
                let got = try await t.vault.readRange(tenant: "acme", objectID: objectID, range)
                expectSameBytes(got, plaintext[Int(range.lowerBound)...Int(range.upperBound)], "range \(range)")
            }
        }
    }

    @Test("a range starting at or past the end, or before 0, is rejected")
    func rangePastEnd() async throws {
        try await withTestVault { t in
            let plaintext = testBytes(5000, seed: 4)
            let (objectID, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "short", bytes: plaintext,
                                                      context: .test)
            for range: ClosedRange<Int64> in [5000...5000, 5000...6000, 9999...10_000] {
                let outcome = await t.vault.readCapturing(tenant: "acme", objectID: objectID, range: range)
                #expect((outcome.error as? CofferError)?.code == .invalidArgument, "range \(range): \(String(describing: outcome.error))")
                #expect(outcome.released.isEmpty)
            }
            await expectCofferError(.invalidArgument) {
                _ = try await t.vault.readRange(tenant: "acme", objectID: objectID, -1...10)
            }
            // The last byte is still in range.
            #expect(try await t.vault.readRange(tenant: "acme", objectID: objectID, 4999...4999) == [plaintext[4999]])
        }
    }

    @Test("an empty object reads as empty, whole or by range 0...0")
    func emptyObjectRange() async throws {
        try await withTestVault { t in
            let (objectID, info) = try await t.vault.put(tenant: "acme", kind: .config, name: "empty", bytes: [UInt8](),
                                                         context: .test)
            #expect(info.size == 0)
            #expect(try await t.vault.readAll(tenant: "acme", objectID: objectID, context: .test).isEmpty)
            #expect(try await t.vault.readRange(tenant: "acme", objectID: objectID, 0...0).isEmpty)
            await expectCofferError(.invalidArgument) {
                _ = try await t.vault.readRange(tenant: "acme", objectID: objectID, 1...1)
            }
        }
    }

    @Test("a vault made with the default segment size round-trips across its 1 MiB boundary")
    func defaultSegmentSize() async throws {
        try await withTestVault(segmentSize: SegmentLayout.defaultSegmentSize) { t in
            let layout = try SegmentLayout()
            let size = layout.firstPlaintextCapacity + 1
            let plaintext = testBytes(size, seed: 12)
            let (objectID, info) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "mib", bytes: plaintext,
                                                         context: .test)
            #expect(info.segmentSize == SegmentLayout.defaultSegmentSize)
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: objectID, context: .test), plaintext)
            let b = Int64(layout.firstPlaintextCapacity)
            expectSameBytes(try await t.vault.readRange(tenant: "acme", objectID: objectID, (b - 1)...b),
                            plaintext[(size - 2)...])
        }
    }

    @Test("a vault refuses a segment size outside 4 KiB...64 MiB")
    func badSegmentSize() async throws {
        try await withTemporaryPath { directory in
            await expectCofferError(.invalidArgument) {
                _ = try Vault.create(at: directory, keyring: try Keyring.generate(), operator: "op", segmentSize: 4095)
            }
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("control.sqlite").path))
        }
    }
}

/// SplitMix64, for repeatable random ranges.
struct SeededBytes {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
