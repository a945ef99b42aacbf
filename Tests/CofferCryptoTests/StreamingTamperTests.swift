import Foundation
import Testing
@testable import CofferCrypto

/// A change to a four-segment stream (4096-byte segments; plaintext 4040 + 4080 + 4080 + 1000
/// bytes; ciphertext 13304 bytes, segment i >= 1 at i * 4096) and what every reader must say.
struct Tamper: Sendable, CustomTestStringConvertible {
    let name: String
    let code: CofferError.Code
    /// The lowest segment that can no longer be trusted: no plaintext from it or later may be released.
    let firstBad: Int
    let apply: @Sendable ([UInt8]) -> [UInt8]
    var testDescription: String { name }

    static let size = 13_200

    static func flip(_ name: String, at offset: Int, code: CofferError.Code = .authenticationFailed, firstBad: Int) -> Tamper {
        Tamper(name: name, code: code, firstBad: firstBad) { var c = $0; c[offset] ^= 0x01; return c }
    }

    static func cut(to length: Int, code: CofferError.Code, firstBad: Int) -> Tamper {
        Tamper(name: "cut to \(length) bytes", code: code, firstBad: firstBad) { Array($0.prefix(length)) }
    }

    static func segment(_ c: [UInt8], _ i: Int) -> ArraySlice<UInt8> {
        c[i * 4096..<min(c.count, (i + 1) * 4096)]
    }

    static let all: [Tamper] = {
        var all: [Tamper] = [
            flip("header length byte", at: 0, code: .invalidFormat, firstBad: 0),
            flip("salt first byte", at: 1, firstBad: 0),
            flip("salt last byte", at: 32, firstBad: 0),
            flip("nonce prefix first byte", at: 33, firstBad: 0),
            flip("nonce prefix last byte", at: 39, firstBad: 0),
        ]
        let segmentStarts = [40, 4096, 8192, 12_288], segmentEnds = [4096, 8192, 12_288, 13_304]
        for i in 0..<4 {
            all.append(flip("segment \(i) first body byte", at: segmentStarts[i], firstBad: i))
            all.append(flip("segment \(i) middle body byte", at: (segmentStarts[i] + segmentEnds[i] - 16) / 2, firstBad: i))
            all.append(flip("segment \(i) first tag byte", at: segmentEnds[i] - 16, firstBad: i))
            all.append(flip("segment \(i) last tag byte", at: segmentEnds[i] - 1, firstBad: i))
        }
        // Cut at each segment boundary: the new last segment was not sealed as final.
        all += [cut(to: 4096, code: .authenticationFailed, firstBad: 0),
                cut(to: 8192, code: .authenticationFailed, firstBad: 1),
                cut(to: 12_288, code: .authenticationFailed, firstBad: 2)]
        // Cut inside the header or before the first tag ends.
        all += [0, 1, 20, 39, 40, 55].map { cut(to: $0, code: .truncated, firstBad: 0) }
        // Cut between boundaries.
        all += [cut(to: 56, code: .authenticationFailed, firstBad: 0),
                cut(to: 4000, code: .authenticationFailed, firstBad: 0),
                cut(to: 4096 + 10, code: .truncated, firstBad: 1),
                cut(to: 4096 + 16, code: .authenticationFailed, firstBad: 1),
                cut(to: 4096 + 17, code: .authenticationFailed, firstBad: 1),
                cut(to: 8192 + 500, code: .authenticationFailed, firstBad: 2),
                cut(to: 13_303, code: .authenticationFailed, firstBad: 3)]
        all += [
            Tamper(name: "1 byte appended", code: .authenticationFailed, firstBad: 3) { $0 + [0] },
            Tamper(name: "16 bytes appended", code: .authenticationFailed, firstBad: 3) { $0 + [UInt8](repeating: 7, count: 16) },
            Tamper(name: "a whole segment appended", code: .authenticationFailed, firstBad: 3) { $0 + segment($0, 1) },
            Tamper(name: "segments 1 and 2 swapped", code: .authenticationFailed, firstBad: 1) {
                Array($0[0..<4096] + segment($0, 2) + segment($0, 1) + segment($0, 3))
            },
            Tamper(name: "segment 1 duplicated", code: .authenticationFailed, firstBad: 2) {
                Array($0[0..<8192] + segment($0, 1) + $0[8192...])
            },
            Tamper(name: "segment 1 dropped", code: .authenticationFailed, firstBad: 1) {
                Array($0[0..<4096] + $0[8192...])
            },
        ]
        return all
    }()
}

@Suite("Streaming tampering")
struct StreamingTamperTests {
    let aad = Array("tenant/acme/object/42/v3".utf8)

    @Test(arguments: Tamper.all)
    func everyReaderRejects(_ tamper: Tamper) throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: 4096)
        let plaintext = try randomBytes(Tamper.size)
        let original = try aead.seal(plaintext, aad: aad)
        #expect(original.count == 13_304)
        let bad = tamper.apply(original)
        #expect(bad != original)
        try expectRejected(bad, aead: aead, aad: aad, plaintext: plaintext, code: tamper.code, firstBad: tamper.firstBad)
    }

    @Test func wrongAAD() throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: 4096)
        let plaintext = try randomBytes(Tamper.size)
        let sealed = try aead.seal(plaintext, aad: aad)
        for other in [aad + [0], Array(aad.dropLast()), [UInt8]()] {
            try expectRejected(sealed, aead: aead, aad: other, plaintext: plaintext, code: .authenticationFailed, firstBad: 0)
        }
    }

    @Test func wrongKey() throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: 4096)
        let plaintext = try randomBytes(Tamper.size)
        let sealed = try aead.seal(plaintext, aad: aad)
        let other = try StreamingAEAD(key: try randomKey(), segmentSize: 4096)
        try expectRejected(sealed, aead: other, aad: aad, plaintext: plaintext, code: .authenticationFailed, firstBad: 0)
    }

    @Test func wrongSegmentSize() throws {
        let k = try randomKey()
        let plaintext = try randomBytes(Tamper.size)
        let sealed = try StreamingAEAD(key: k, segmentSize: 4096).seal(plaintext, aad: aad)
        #expect(errorCode { _ = try StreamingAEAD(key: k, segmentSize: 8192).open(sealed, aad: aad) } == .authenticationFailed)
    }

    /// Many segments so both workers run; tampered segments in either worker's share, and in two batches.
    @Test(arguments: [[10], [149], [150], [299], [10, 200], [200, 10], [2100]])
    func parallelAndBatchedReadersStopAtTheFirstBadSegment(tampered: [Int]) throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: 4096)
        let segments = tampered.contains(2100) ? 2200 : 300
        let plaintext = try randomBytes(4040 + (segments - 1) * 4080)
        var bad = try aead.seal(plaintext, aad: aad)
        #expect(bad.count == segments * 4096)
        for i in tampered { bad[i * 4096 + 100] ^= 0x80 }
        try expectRejected(bad, aead: aead, aad: aad, plaintext: plaintext, code: .authenticationFailed,
                           firstBad: tampered.min()!, chunks: [65_537, Int.max])
    }

    @Test func randomAccessStillReadsSegmentsBeforeTheDamage() throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: 4096)
        let plaintext = try randomBytes(Tamper.size)
        var bad = try aead.seal(plaintext, aad: aad)
        bad[8192 + 5] ^= 1
        let reader = try makeRandomAccess(aead, bad, aad: aad)
        expectSameBytes(try readPlaintext(reader, bad, 0..<8120), Array(plaintext[0..<8120]))
        #expect(errorCode { _ = try readPlaintext(reader, bad, 8000..<8200) } == .authenticationFailed)
        #expect(errorCode { _ = try readPlaintext(reader, bad, 0..<Int64(Tamper.size)) } == .authenticationFailed)
    }

    @Test func randomAccessRejectsAShortSegmentFromStorage() throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: 4096)
        let sealed = try aead.seal(try randomBytes(Tamper.size), aad: aad)
        let reader = try makeRandomAccess(aead, sealed, aad: aad)
        #expect(errorCode { try reader.read(0..<10, segment: { _, _ in 100 }, to: { _ in }) } == .truncated)
    }
}

/// Checks that the one-shot open, the buffer open, the stream decryptor and random access all
/// reject `ciphertext` with `code`, and that the stream decryptor released only whole segments of
/// the true plaintext before `firstBad`.
func expectRejected(_ ciphertext: [UInt8], aead: StreamingAEAD, aad: [UInt8], plaintext: [UInt8],
                    code: CofferError.Code, firstBad: Int, chunks: [Int] = [1, 1000, Int.max],
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(errorCode { _ = try aead.open(ciphertext, aad: aad) } == code, "one-shot open", sourceLocation: sourceLocation)

    for workers in [1, 2] {
        // The buffer open wipes its output on failure: nothing unauthenticated is left behind.
        if let size = try? aead.layout.plaintextSize(ciphertextSize: Int64(ciphertext.count)) {
            var output = [UInt8](repeating: 0xAA, count: Int(size))
            #expect(errorCode {
                try ciphertext.withUnsafeBytes { c in try output.withUnsafeMutableBytes { try aead.open(c, into: $0, aad: aad, workers: workers) } }
            } == code, "buffer open, workers \(workers)", sourceLocation: sourceLocation)
            #expect(output.allSatisfy { $0 == 0 } || output.allSatisfy { $0 == 0xAA },
                    "buffer open left plaintext behind, workers \(workers)", sourceLocation: sourceLocation)
        }

        // Released plaintext must end on a segment boundary at or before the first bad segment.
        let layout = aead.layout, limit = Int(layout.plaintextOffset(ofSegment: firstBad))
        func allowed(_ n: Int) -> Bool {
            n <= limit && (n == 0 || Int(layout.plaintextOffset(ofSegment: layout.segment(containingPlaintextOffset: Int64(n)))) == n)
        }
        for chunk in chunks {
            for usingFill in [false, true] {
                let decryptor = StreamDecryptor(aead: aead, aad: aad, workers: workers)
                var released: [UInt8] = []
                let failure = errorCode { try decryptStream(decryptor, ciphertext, chunk: chunk, usingFill: usingFill, into: &released) }
                let how = "stream decryptor, chunk \(chunk), fill \(usingFill), workers \(workers)"
                #expect(failure == code, "\(how)", sourceLocation: sourceLocation)
                #expect(allowed(released.count), "\(how) released \(released.count) bytes (limit \(limit))",
                        sourceLocation: sourceLocation)
                expectSameBytes(released, Array(plaintext.prefix(released.count)), "\(how) released wrong bytes", sourceLocation: sourceLocation)
                #expect(errorCode { try decryptor.append([0] as [UInt8]) { _ in } } == .authenticationFailed,
                        "\(how) accepted input after failing", sourceLocation: sourceLocation)
                #expect(errorCode { try decryptor.finish { _ in } } == .authenticationFailed,
                        "\(how) finished after failing", sourceLocation: sourceLocation)
            }
        }
    }

    #expect(errorCode {
        let reader = try makeRandomAccess(aead, ciphertext, aad: aad)
        _ = try readPlaintext(reader, ciphertext, 0..<reader.plaintextSize)
    } == code, "random access", sourceLocation: sourceLocation)
}
