import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto
import CofferSQL

/// Five segments at 4096 bytes: plaintext offsets 0, 4040, 8120, 12200 and 16280 (100 bytes).
private let tamperSize = 4040 + 4080 * 3 + 100
private let segmentCount = 5

/// A vault holding object `a` (versions 1 and 2) and object `b`, all of ``tamperSize`` bytes with
/// different content.
private struct TamperFixture {
    let t: TestVault
    let a: ObjectID, b: ObjectID
    let a1: [UInt8], a2: [UInt8], b1: [UInt8]
    let a1Row: Int64, a2Row: Int64, b1Row: Int64

    var vault: Vault { t.vault }

    static func make(_ t: TestVault) async throws -> TamperFixture {
        let a1 = testBytes(tamperSize, seed: 101), a2 = testBytes(tamperSize, seed: 102), b1 = testBytes(tamperSize, seed: 103)
        let (a, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "a", bytes: a1, context: .test)
        try await t.vault.put(tenant: "acme", kind: .testResult, name: "a", bytes: a2, context: .test)
        let (b, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "b", bytes: b1, context: .test)
        let a1Row = try #require(try await t.vault.versionRowID(objectID: a, version: 1))
        let a2Row = try #require(try await t.vault.versionRowID(objectID: a, version: 2))
        let b1Row = try #require(try await t.vault.versionRowID(objectID: b, version: 1))
        #expect(try await t.vault.segmentRowCount(versionRowID: a1Row) == segmentCount)
        return TamperFixture(t: t, a: a, b: b, a1: a1, a2: a2, b1: b1, a1Row: a1Row, a2Row: a2Row, b1Row: b1Row)
    }

    /// Flips one bit of byte `offset` of segment row `idx`.
    func flip(row: Int64, idx: Int, offset: Int) async throws {
        var data = try await vault.segmentData(versionRowID: row, idx: idx)
        data[offset] ^= 0x01
        try await vault.setSegmentData(versionRowID: row, idx: idx, data)
    }

    /// Swaps the data of segment `idx` between two version rows.
    func swapData(_ first: Int64, _ second: Int64, idx: Int) async throws {
        let x = try await vault.segmentData(versionRowID: first, idx: idx)
        let y = try await vault.segmentData(versionRowID: second, idx: idx)
        #expect(x != y)
        try await vault.setSegmentData(versionRowID: first, idx: idx, y)
        try await vault.setSegmentData(versionRowID: second, idx: idx, x)
    }

    func execute(_ sql: String, _ arguments: SQLArguments) async throws -> Int {
        try await vault.content.write { db in try db.execute(sql: sql, arguments: arguments) }
    }
}

/// Reads and expects `tamperDetected`, with what reached the sink a prefix of the expected
/// plaintext (starting at the range's start) that ends before segment `badSegment`.
private func expectTamper(_ f: TamperFixture, objectID: ObjectID, version: Int? = nil, range: ClosedRange<Int64>? = nil,
                          plaintext: [UInt8], badSegment: Int, _ comment: Comment,
                          sourceLocation: SourceLocation = #_sourceLocation) async {
    let outcome = await f.vault.readCapturing(tenant: "acme", objectID: objectID, version: version, range: range)
    guard let error = outcome.error else {
        Issue.record("\(comment): the read succeeded (\(outcome.released.count) bytes)", sourceLocation: sourceLocation)
        return
    }
    #expect((error as? CofferError)?.code == .tamperDetected, "\(comment): \(error)", sourceLocation: sourceLocation)
    let start = Int(range?.lowerBound ?? 0)
    let limit = Int(testLayout.plaintextOffset(ofSegment: badSegment))
    if start >= limit {
        #expect(outcome.released.isEmpty, "\(comment): \(outcome.released.count) bytes released from segment \(badSegment) or later",
                sourceLocation: sourceLocation)
    } else {
        #expect(start + outcome.released.count <= limit,
                "\(comment): \(outcome.released.count) bytes from \(start) released, reaching into segment \(badSegment) (starts at \(limit))",
                sourceLocation: sourceLocation)
    }
    let end = min(plaintext.count, start + outcome.released.count)
    expectSameBytes(outcome.released, plaintext[start..<end], "\(comment): released bytes", sourceLocation: sourceLocation)
}

@Suite("Store tamper detection", .segmentRowsOnly)
struct StoreTamperTests {
    @Test("the fixture reads back intact before tampering")
    func baseline() async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            expectSameBytes(try await f.vault.readAll(tenant: "acme", objectID: f.a, version: 1, context: .test), f.a1)
            expectSameBytes(try await f.vault.readAll(tenant: "acme", objectID: f.a, version: 2, context: .test), f.a2)
            expectSameBytes(try await f.vault.readAll(tenant: "acme", objectID: f.b, context: .test), f.b1)
        }
    }

    @Test("a flipped byte in a middle segment", arguments: [0, 100, 4079, 4095])
    func flippedMiddle(offset: Int) async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            try await f.flip(row: f.a1Row, idx: 2, offset: offset)
            await expectTamper(f, objectID: f.a, version: 1, plaintext: f.a1, badSegment: 2, "middle segment byte \(offset)")
            // Other versions and objects are unaffected.
            expectSameBytes(try await f.vault.readAll(tenant: "acme", objectID: f.a, version: 2, context: .test), f.a2)
            expectSameBytes(try await f.vault.readAll(tenant: "acme", objectID: f.b, context: .test), f.b1)
        }
    }

    @Test("a flipped byte in row 0: the header's length byte, salt, nonce prefix, or segment 0's body",
          arguments: [0, 1, 20, 33, 39, 40, 500, 4095])
    func flippedHeaderRow(offset: Int) async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            try await f.flip(row: f.a1Row, idx: 0, offset: offset)
            await expectTamper(f, objectID: f.a, version: 1, plaintext: f.a1, badSegment: 0, "row 0 byte \(offset)")
            await expectTamper(f, objectID: f.a, version: 1, range: 0...10, plaintext: f.a1, badSegment: 0, "range in segment 0")
            if offset < SegmentLayout.headerSize {
                // The header keys every segment: a range that never touches segment 0's body fails too.
                await expectTamper(f, objectID: f.a, version: 1, range: 8200...8300, plaintext: f.a1, badSegment: 0,
                                   "range in segment 2 after a header flip")
            }
        }
    }

    @Test("a flipped byte in the last row", arguments: [0, 99, 115])
    func flippedLastRow(offset: Int) async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            try await f.flip(row: f.a1Row, idx: 4, offset: offset)
            await expectTamper(f, objectID: f.a, version: 1, plaintext: f.a1, badSegment: 4, "last row byte \(offset)")
            await expectTamper(f, objectID: f.a, version: 1, range: 16280...16379, plaintext: f.a1, badSegment: 4, "range in the last segment")
        }
    }

    @Test("segment rows swapped between two objects (same idx)", arguments: [0, 2, 4])
    func swappedBetweenObjects(idx: Int) async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            try await f.swapData(f.a1Row, f.b1Row, idx: idx)
            await expectTamper(f, objectID: f.a, version: 1, plaintext: f.a1, badSegment: idx, "a with b's segment \(idx)")
            await expectTamper(f, objectID: f.b, plaintext: f.b1, badSegment: idx, "b with a's segment \(idx)")
        }
    }

    @Test("segment rows swapped between two versions of one object", arguments: [0, 1, 4])
    func swappedBetweenVersions(idx: Int) async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            try await f.swapData(f.a1Row, f.a2Row, idx: idx)
            await expectTamper(f, objectID: f.a, version: 1, plaintext: f.a1, badSegment: idx, "v1 with v2's segment \(idx)")
            await expectTamper(f, objectID: f.a, version: 2, plaintext: f.a2, badSegment: idx, "v2 with v1's segment \(idx)")
        }
    }

    @Test("a whole version's rows moved onto another version")
    func wholeStreamMoved() async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            #expect(try await f.execute("DELETE FROM segment WHERE version_id = ?", [f.a1Row]) == segmentCount)
            #expect(try await f.execute("UPDATE segment SET version_id = ? WHERE version_id = ?", [f.a1Row, f.b1Row]) == segmentCount)
            await expectTamper(f, objectID: f.a, version: 1, plaintext: f.a1, badSegment: 0, "b's stream under a v1")
        }
    }

    @Test("the last row deleted")
    func lastRowDeleted() async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            #expect(try await f.execute("DELETE FROM segment WHERE version_id = ? AND idx = 4", [f.a1Row]) == 1)
            await expectTamper(f, objectID: f.a, version: 1, plaintext: f.a1, badSegment: 4, "last row deleted")
            await expectTamper(f, objectID: f.a, version: 1, range: 16000...16379, plaintext: f.a1, badSegment: 4,
                               "range reaching the deleted row")
            await expectTamper(f, objectID: f.a, version: 1, range: 16379...16379, plaintext: f.a1, badSegment: 4,
                               "last byte")
        }
    }

    @Test("the last two rows deleted")
    func lastTwoRowsDeleted() async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            #expect(try await f.execute("DELETE FROM segment WHERE version_id = ? AND idx >= 3", [f.a1Row]) == 2)
            await expectTamper(f, objectID: f.a, version: 1, plaintext: f.a1, badSegment: 3, "last two rows deleted")
        }
    }

    @Test("a middle row deleted", arguments: [1, 2, 3])
    func middleRowDeleted(idx: Int) async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            #expect(try await f.execute("DELETE FROM segment WHERE version_id = ? AND idx = ?", [f.a1Row, idx]) == 1)
            await expectTamper(f, objectID: f.a, version: 1, plaintext: f.a1, badSegment: idx, "row \(idx) deleted")
            let start = testLayout.plaintextOffset(ofSegment: idx)
            await expectTamper(f, objectID: f.a, version: 1, range: start...(start + 10), plaintext: f.a1, badSegment: idx,
                               "range in the deleted row")
        }
    }

    @Test("row 0 deleted")
    func headerRowDeleted() async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            #expect(try await f.execute("DELETE FROM segment WHERE version_id = ? AND idx = 0", [f.a1Row]) == 1)
            await expectTamper(f, objectID: f.a, version: 1, plaintext: f.a1, badSegment: 0, "row 0 deleted")
            await expectTamper(f, objectID: f.a, version: 1, range: 9000...9010, plaintext: f.a1, badSegment: 0, "range")
        }
    }

    @Test("two rows' idx swapped within a version", arguments: [(1, 2), (0, 1), (3, 4), (1, 3)])
    func idxSwapped(x: Int, y: Int) async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            let changed = try await f.vault.content.write { [row = f.a1Row] db -> Int in
                try db.execute(sql: "UPDATE segment SET idx = -1 WHERE version_id = ? AND idx = ?", arguments: [row, x])
                try db.execute(sql: "UPDATE segment SET idx = ? WHERE version_id = ? AND idx = ?", arguments: [x, row, y])
                return try db.execute(sql: "UPDATE segment SET idx = ? WHERE version_id = ? AND idx = -1", arguments: [y, row])
            }
            #expect(changed == 1)
            await expectTamper(f, objectID: f.a, version: 1, plaintext: f.a1, badSegment: x, "idx \(x) and \(y) swapped")
            let start = testLayout.plaintextOffset(ofSegment: y)
            await expectTamper(f, objectID: f.a, version: 1, range: start...(start + 3), plaintext: f.a1, badSegment: y,
                               "range in segment \(y)")
        }
    }

    @Test("a range read fails on a tampered segment and releases only bytes of segments before it")
    func rangeOverTamperedSegment() async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            try await f.flip(row: f.a1Row, idx: 2, offset: 1000)
            await expectTamper(f, objectID: f.a, version: 1, range: 8120...8200, plaintext: f.a1, badSegment: 2, "inside segment 2")
            await expectTamper(f, objectID: f.a, version: 1, range: 8119...8120, plaintext: f.a1, badSegment: 2, "across 1|2")
            await expectTamper(f, objectID: f.a, version: 1, range: 5000...9000, plaintext: f.a1, badSegment: 2, "from segment 1 into 2")
            await expectTamper(f, objectID: f.a, version: 1, range: 0...16379, plaintext: f.a1, badSegment: 2, "whole object by range")
            // Ranges that never touch segment 2 still read.
            expectSameBytes(try await f.vault.readRange(tenant: "acme", objectID: f.a, version: 1, 0...8119), f.a1[0...8119])
            expectSameBytes(try await f.vault.readRange(tenant: "acme", objectID: f.a, version: 1, 12200...12300), f.a1[12200...12300])
        }
    }

    @Test("a grown or shrunk segment row is detected", arguments: [-1, 1])
    func resizedRow(delta: Int) async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            var data = try await f.vault.segmentData(versionRowID: f.a1Row, idx: 1)
            if delta < 0 { data.removeLast() } else { data.append(0) }
            try await f.vault.setSegmentData(versionRowID: f.a1Row, idx: 1, data)
            await expectTamper(f, objectID: f.a, version: 1, plaintext: f.a1, badSegment: 1, "row 1 resized by \(delta)")
            await expectTamper(f, objectID: f.a, version: 1, range: 4040...4100, plaintext: f.a1, badSegment: 1, "range in row 1")
        }
    }

    @Test("a tampered or moved sealed name is detected by stat and list")
    func tamperedName() async throws {
        try await withTestVault { t in
            let f = try await TamperFixture.make(t)
            let stored: Data? = try await f.vault.content.read { [b = f.b] db in
                try Data.fetchOne(db, sql: "SELECT name_sealed FROM object WHERE id = ?", arguments: [b])
            }
            let sealed = try #require(stored)
            // b's sealed name copied onto a: it is bound to b's id.
            _ = try await f.execute("UPDATE object SET name_sealed = ? WHERE id = ?", [sealed, f.a])
            await expectCofferError(.tamperDetected) { _ = try await f.vault.stat(tenant: "acme", objectID: f.a, context: .test) }
            await expectCofferError(.tamperDetected) { _ = try await f.vault.list(tenant: "acme", context: .test) }
            // One flipped bit in b's own name.
            var flipped = [UInt8](sealed)
            flipped[flipped.count / 2] ^= 0x80
            _ = try await f.execute("UPDATE object SET name_sealed = ? WHERE id = ?", [Data(flipped), f.b])
            await expectCofferError(.tamperDetected) { _ = try await f.vault.stat(tenant: "acme", objectID: f.b, context: .test) }
        }
    }
}
