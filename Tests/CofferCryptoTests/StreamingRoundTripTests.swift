import Foundation
import Testing
@testable import CofferCrypto

struct RoundTripCase: Sendable, CustomTestStringConvertible {
    let segmentSize: Int
    let size: Int
    var testDescription: String { "\(size) bytes in \(segmentSize)-byte segments" }

    /// Sizes at segment boundaries and one either side, for segment size `css`.
    static func boundaries(_ css: Int, segments: [Int]) -> [RoundTripCase] {
        let first = css - 56, later = css - 16
        var sizes = [0, 1]
        for k in segments {
            let edge: Int = first + k * later
            sizes += [edge - 1, edge, edge + 1]
        }
        return sizes.map { RoundTripCase(segmentSize: css, size: $0) }
    }

    /// The last plaintext byte of a full encryptor or decryptor batch (`SegmentBatch`), and around it.
    static func batchEdge(_ css: Int) -> [RoundTripCase] {
        let slots = SegmentBatch.segments(segmentSize: css, workers: 2)
        let full = css - 56 + (slots - 1) * (css - 16)
        return [full - 1, full, full + 1].map { RoundTripCase(segmentSize: css, size: $0) }
    }
}

@Suite("Streaming round trips")
struct StreamingRoundTripTests {
    static let small: [RoundTripCase] =
        RoundTripCase.boundaries(4096, segments: [0, 1, 2, 9])
        + RoundTripCase.boundaries(65_536, segments: [0, 1, 2])
        + [RoundTripCase(segmentSize: 4096, size: 1_300_000), RoundTripCase(segmentSize: 65_536, size: 3_000_001)]

    @Test(arguments: small)
    func everyEntryPoint(_ c: RoundTripCase) throws {
        // Byte-by-byte feeding only where it stays quick in a debug build.
        try roundTrip(c, chunks: c.size <= 100_000 ? [1, 4093, Int.max] : [65_537, Int.max])
    }

    @Test(arguments: RoundTripCase.batchEdge(4096) + RoundTripCase.batchEdge(65_536)
                   + [RoundTripCase(segmentSize: 4096, size: 17_000_003)])
    func acrossBatches(_ c: RoundTripCase) throws {
        try roundTrip(c, chunks: [65_537])
    }

    private func roundTrip(_ c: RoundTripCase, chunks: [Int]) throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: c.segmentSize)
        let aad = Array("tenant/acme/object/\(c.size)/v1".utf8)
        let plaintext = try randomBytes(c.size)
        let expectedSize = Int(aead.layout.ciphertextSize(plaintextSize: Int64(c.size)))

        // One-shot buffers, public API.
        let sealed = try aead.seal(plaintext, aad: aad)
        #expect(sealed.count == expectedSize)
        #expect(sealed[0] == 0x28)
        expectSameBytes(try aead.open(sealed, aad: aad), plaintext)

        for workers in [1, 2] {
            expectSameBytes(try openBuffers(aead, sealed, aad: aad, workers: workers), plaintext, "open, workers \(workers)")

            // Encryptor with append and with fill; both must match the buffer entry point under the same header.
            for chunk in chunks {
                let encryptor = try StreamEncryptor(aead: aead, aad: aad, workers: workers)
                let streamed = try encryptStream(encryptor, plaintext, chunk: chunk)
                let session = try aead.session(header: encryptor.header, aad: aad)
                expectSameBytes(streamed, try sealBuffers(aead, plaintext, session: session, workers: workers),
                                "append chunk \(chunk), workers \(workers)")
                expectSameBytes(try aead.open(streamed, aad: aad), plaintext)
            }
            let filling = try StreamEncryptor(aead: aead, aad: aad, workers: workers)
            let filled = try encryptStream(filling, plaintext, chunk: 1000 + workers, usingFill: true)
            expectSameBytes(try aead.open(filled, aad: aad), plaintext, "fill, workers \(workers)")

            // Decryptor with append and with fill.
            for chunk in chunks {
                let decryptor = StreamDecryptor(aead: aead, aad: aad, workers: workers)
                expectSameBytes(try decryptStream(decryptor, sealed, chunk: chunk), plaintext, "append chunk \(chunk), workers \(workers)")
                let filler = StreamDecryptor(aead: aead, aad: aad, workers: workers)
                expectSameBytes(try decryptStream(filler, sealed, chunk: chunk, usingFill: true), plaintext,
                                "fill chunk \(chunk), workers \(workers)")
            }
        }

        // Random access, with ranges straddling segment boundaries.
        let reader = try makeRandomAccess(aead, sealed, aad: aad)
        #expect(reader.plaintextSize == Int64(c.size))
        var ranges = sampleRanges(size: Int64(c.size), count: 10, seed: UInt64(c.size))
        for k in 1..<min(reader.segmentCount, 4) {
            let edge = reader.layout.plaintextOffset(ofSegment: k)
            ranges.append(max(0, edge - 3)..<min(Int64(c.size), edge + 3))
        }
        for range in ranges {
            expectSameBytes(try readPlaintext(reader, sealed, range), Array(plaintext[Int(range.lowerBound)..<Int(range.upperBound)]),
                            "range \(range)")
        }
    }

    @Test func sealedStreamsDiffer() throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: 4096)
        let a = try aead.seal([1, 2, 3] as [UInt8], aad: [UInt8]()), b = try aead.seal([1, 2, 3] as [UInt8], aad: [UInt8]())
        #expect(a.prefix(40) != b.prefix(40), "every stream draws a fresh salt and nonce prefix")
        #expect(a.count == 59 && b.count == 59)
    }

    @Test func bufferSizesAreChecked() throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: 4096)
        let plaintext = [UInt8](repeating: 1, count: 100)
        var tooSmall = [UInt8](repeating: 0, count: 155)
        #expect(errorCode {
            try plaintext.withUnsafeBytes { p in try tooSmall.withUnsafeMutableBytes { try aead.seal(p, into: $0, aad: [UInt8]()) } }
        } == .invalidArgument)
        let sealed = try aead.seal(plaintext, aad: [UInt8]())
        var wrong = [UInt8](repeating: 0, count: 99)
        #expect(errorCode {
            try sealed.withUnsafeBytes { c in try wrong.withUnsafeMutableBytes { try aead.open(c, into: $0, aad: [UInt8]()) } }
        } == .invalidArgument)
    }
}
