import Foundation
import Testing
@testable import CofferCrypto

/// A ciphertext written by Tink Python, from `tink_streaming_vectors.json`.
struct TinkVector: Decodable, Sendable, CustomTestStringConvertible {
    let id: Int
    let segmentSize: Int
    let key: String
    let aad: String
    let plaintextLength: Int
    let ciphertext: String

    var testDescription: String { "vector \(id) (segment \(segmentSize), \(plaintextLength) bytes)" }
    var aadBytes: [UInt8] { hex(aad) }
    var ciphertextBytes: [UInt8] { Array(Data(base64Encoded: ciphertext) ?? Data()) }
    var plaintext: [UInt8] { (0..<plaintextLength).map { UInt8(($0 * 131 + 17) % 256) } }
    func aead() throws -> StreamingAEAD { try StreamingAEAD(key: SecureBytes(copying: hex(key)), segmentSize: segmentSize) }
}

private struct TinkFile: Decodable {
    let plaintextRule: String
    let vectors: [TinkVector]
}

/// Every vector, or none if the file cannot be read (``vectorFileLoads`` then fails).
let tinkVectors: [TinkVector] =
    (try? JSONDecoder().decode(TinkFile.self, from: resource("tink_streaming_vectors.json")).vectors) ?? []

@Suite("Tink streaming vectors")
struct StreamingVectorTests {
    @Test func vectorFileLoads() throws {
        let file = try JSONDecoder().decode(TinkFile.self, from: try resource("tink_streaming_vectors.json"))
        #expect(file.vectors.count == 18)
        #expect(file.plaintextRule == "byte[i] = (i*131 + 17) mod 256")
        #expect(Set(file.vectors.map(\.segmentSize)) == [4096, 8192])
    }

    @Test(arguments: tinkVectors)
    func sizesMatchTheLayout(_ v: TinkVector) throws {
        let ct = v.ciphertextBytes, layout = try SegmentLayout(segmentSize: v.segmentSize)
        #expect(Int64(ct.count) == layout.ciphertextSize(plaintextSize: Int64(v.plaintextLength)))
        #expect(try layout.plaintextSize(ciphertextSize: Int64(ct.count)) == Int64(v.plaintextLength))
        #expect(ct.first == 0x28)
    }

    @Test(arguments: tinkVectors)
    func oneShotOpen(_ v: TinkVector) throws {
        let aead = try v.aead(), ct = v.ciphertextBytes
        expectSameBytes(try aead.open(ct, aad: v.aadBytes), v.plaintext)
        for workers in [1, 2] {
            expectSameBytes(try openBuffers(aead, ct, aad: v.aadBytes, workers: workers), v.plaintext)
        }
    }

    @Test(arguments: tinkVectors, [1, 7, 4096, Int.max])
    func streamDecryptor(_ v: TinkVector, chunk: Int) throws {
        let aead = try v.aead(), ct = v.ciphertextBytes
        for workers in [1, 2] {
            let viaAppend = try decryptStream(StreamDecryptor(aead: aead, aad: v.aadBytes, workers: workers), ct, chunk: chunk)
            expectSameBytes(viaAppend, v.plaintext, "append, workers \(workers)")
            let viaFill = try decryptStream(StreamDecryptor(aead: aead, aad: v.aadBytes, workers: workers), ct, chunk: chunk,
                                      usingFill: true)
            expectSameBytes(viaFill, v.plaintext, "fill, workers \(workers)")
        }
    }

    @Test(arguments: tinkVectors)
    func randomAccess(_ v: TinkVector) throws {
        let aead = try v.aead(), ct = v.ciphertextBytes, plaintext = v.plaintext
        let reader = try makeRandomAccess(aead, ct, aad: v.aadBytes)
        #expect(reader.plaintextSize == Int64(v.plaintextLength))
        #expect(reader.segmentCount == reader.layout.segmentCount(plaintextSize: Int64(v.plaintextLength)))
        for range in sampleRanges(size: Int64(v.plaintextLength), count: 25, seed: UInt64(v.id)) {
            let got = try readPlaintext(reader, ct, range)
            expectSameBytes(got, Array(plaintext[Int(range.lowerBound)..<Int(range.upperBound)]), "range \(range)")
        }
        // Ranges past the end are clamped.
        expectSameBytes(try readPlaintext(reader, ct, 0..<Int64(v.plaintextLength) + 100), plaintext)
    }

    @Test(arguments: tinkVectors)
    func reencryptingWithTheSameHeaderGivesTheSameBytes(_ v: TinkVector) throws {
        let aead = try v.aead(), ct = v.ciphertextBytes, plaintext = v.plaintext
        let session = try aead.session(header: Array(ct.prefix(40)), aad: v.aadBytes)
        #expect(session.header == Array(ct.prefix(40)))
        for workers in [1, 2] {
            expectSameBytes(try sealBuffers(aead, plaintext, session: session, workers: workers), ct, "buffers, workers \(workers)")
            for chunk in [1, 4096, Int.max] {
                let encryptor = try StreamEncryptor(aead: aead, session: session, workers: workers)
                #expect(encryptor.header == Array(ct.prefix(40)))
                expectSameBytes(try encryptStream(encryptor, plaintext, chunk: chunk), ct, "encryptor, chunk \(chunk), workers \(workers)")
            }
            let filling = try StreamEncryptor(aead: aead, session: session, workers: workers)
            expectSameBytes(try encryptStream(filling, plaintext, chunk: 999, usingFill: true), ct, "encryptor fill, workers \(workers)")
        }
    }

    /// Tink's writers never end a stream with an empty segment after a full one, but Tink's readers
    /// accept it (checked with tink-python 1.16.1): the ciphertext size says segment 1 is final.
    @Test func emptyFinalSegmentAfterAFullOneOpens() throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: 4096)
        let aad = Array("tenant/acme/object/7/v1".utf8)
        let plaintext = try randomBytes(4040)
        let session = try aead.newSession(aad: aad)
        let cipher = try session.makeCipher(encrypting: true)
        var ct = session.header + [UInt8](repeating: 0, count: 4096 - 40 + 16)
        try plaintext.withUnsafeBytes { p in
            try ct.withUnsafeMutableBytes { c in
                try cipher.seal(segment: 0, isLast: false, plaintext: p.baseAddress, count: 4040, output: c.baseAddress! + 40)
                try cipher.seal(segment: 1, isLast: true, plaintext: nil, count: 0, output: c.baseAddress! + 4096)
            }
        }
        #expect(try aead.layout.plaintextSize(ciphertextSize: 4112) == 4040)
        expectSameBytes(try aead.open(ct, aad: aad), plaintext)
        for workers in [1, 2] {
            expectSameBytes(try openBuffers(aead, ct, aad: aad, workers: workers), plaintext)
            expectSameBytes(try decryptStream(StreamDecryptor(aead: aead, aad: aad, workers: workers), ct, chunk: 1000), plaintext)
        }
        let reader = try makeRandomAccess(aead, ct, aad: aad)
        #expect(reader.segmentCount == 2)
        expectSameBytes(try readPlaintext(reader, ct, 0..<4040), plaintext)
        expectSameBytes(try readPlaintext(reader, ct, 4000..<5000), Array(plaintext[4000...]))
    }

    /// The same shape made by appending 16 bytes to a stream that ends on a boundary must fail:
    /// the old last segment was sealed as final.
    @Test func sixteenBytesAfterABoundaryFail() throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: 4096)
        let aad = Array("tenant/acme/object/8/v1".utf8)
        let plaintext = try randomBytes(4040 + 4080)
        let sealed = try aead.seal(plaintext, aad: aad)
        #expect(sealed.count == 8192)
        try expectRejected(sealed + [UInt8](repeating: 0, count: 16), aead: aead, aad: aad, plaintext: plaintext,
                           code: .authenticationFailed, firstBad: 1)
        try expectRejected(Array(sealed.prefix(4096 + 16)), aead: aead, aad: aad, plaintext: plaintext,
                           code: .authenticationFailed, firstBad: 1)
    }

    @Test(arguments: tinkVectors)
    func otherAADOrKeyFails(_ v: TinkVector) throws {
        let aead = try v.aead(), ct = v.ciphertextBytes
        #expect(errorCode { _ = try aead.open(ct, aad: v.aadBytes + [0]) } == .authenticationFailed)
        let other = try StreamingAEAD(key: try randomKey(), segmentSize: v.segmentSize)
        #expect(errorCode { _ = try other.open(ct, aad: v.aadBytes) } == .authenticationFailed)
    }
}
