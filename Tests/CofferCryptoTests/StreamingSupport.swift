import Foundation
import Testing
@testable import CofferCrypto

/// Runs `plaintext` through `encryptor` in pieces of `chunk` bytes (with `append`, or with `fill`
/// when `usingFill`), finishes, and returns the ciphertext. Checks the shape of every batch the
/// sink receives.
func encryptStream(_ encryptor: StreamEncryptor, _ plaintext: [UInt8], chunk: Int, usingFill: Bool = false) throws -> [UInt8] {
    var out: [UInt8] = []
    var nextSegment = 0, sawFinal = false
    let segmentSize = encryptor.layout.segmentSize
    func sink(_ batch: CiphertextSegments) {
        #expect(batch.firstSegment == nextSegment)
        #expect(!sawFinal, "a batch after the final one")
        #expect(batch.count >= 1)
        var total = 0
        for j in 0..<batch.count {
            let isLast = batch.isFinal && j == batch.count - 1
            if !isLast { #expect(batch[j].count == segmentSize) }
            total += batch[j].count
        }
        #expect(total == batch.bytes.count)
        out.append(contentsOf: batch.bytes)
        nextSegment += batch.count
        sawFinal = batch.isFinal
    }
    var offset = 0
    while offset < plaintext.count {
        if usingFill {
            try encryptor.fill(to: sink) { space in
                let n = min(space.count, chunk, plaintext.count - offset)
                plaintext.withUnsafeBytes { space.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
                offset += n
                return n
            }
        } else {
            let end = min(plaintext.count, offset + chunk)
            try encryptor.append(plaintext[offset..<end], to: sink)
            offset = end
        }
    }
    try encryptor.finish(to: sink)
    #expect(sawFinal, "no batch was marked final")
    return out
}

/// Feeds `ciphertext` to `decryptor` in pieces of `chunk` bytes (with `append`, or `fill` when
/// `usingFill`) and finishes. Everything the sink releases is appended to `released` in order,
/// so a caller can inspect it even when this throws.
func decryptStream(_ decryptor: StreamDecryptor, _ ciphertext: [UInt8], chunk: Int, usingFill: Bool = false,
             into released: inout [UInt8]) throws {
    var nextSegment = 0
    func sink(_ batch: PlaintextSegments) {
        #expect(batch.firstSegment == nextSegment)
        #expect(batch.count >= 1)
        let before = released.count
        for j in 0..<batch.count { released.append(contentsOf: batch[j]) }
        #expect(released.count - before == batch.byteCount)
        nextSegment += batch.count
    }
    var offset = 0
    while offset < ciphertext.count {
        if usingFill {
            try decryptor.fill(to: sink) { space in
                let n = min(space.count, chunk, ciphertext.count - offset)
                ciphertext.withUnsafeBytes { space.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
                offset += n
                return n
            }
        } else {
            let end = min(ciphertext.count, offset + chunk)
            try decryptor.append(ciphertext[offset..<end], to: sink)
            offset = end
        }
    }
    try decryptor.finish(to: sink)
}

/// Decrypts a whole stream with a ``StreamDecryptor`` and returns the plaintext.
func decryptStream(_ decryptor: StreamDecryptor, _ ciphertext: [UInt8], chunk: Int, usingFill: Bool = false) throws -> [UInt8] {
    var released: [UInt8] = []
    try decryptStream(decryptor, ciphertext, chunk: chunk, usingFill: usingFill, into: &released)
    return released
}

/// Reads plaintext `range` through `reader`, fetching segments from `ciphertext` as a caller
/// holding the stream in storage would.
func readPlaintext(_ reader: RandomAccessDecryptor, _ ciphertext: [UInt8], _ range: Range<Int64>) throws -> [UInt8] {
    var out: [UInt8] = []
    var previous = -1
    try reader.read(range, segment: { index, buffer in
        #expect(index == previous + 1 || previous == -1, "segments out of order")
        previous = index
        let span = reader.ciphertextRange(ofSegment: index)
        guard span.lowerBound >= 0, span.upperBound <= Int64(ciphertext.count), span.count <= buffer.count else {
            throw TestHelperError(description: "segment \(index) range \(span) does not fit the stream or the \(buffer.count)-byte buffer")
        }
        ciphertext.withUnsafeBytes {
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(span.lowerBound)..<Int(span.upperBound)]))
        }
        return span.count
    }, to: { out.append(contentsOf: $0) })
    return out
}

/// A ``RandomAccessDecryptor`` over a whole in-memory stream.
func makeRandomAccess(_ aead: StreamingAEAD, _ ciphertext: [UInt8], aad: [UInt8]) throws -> RandomAccessDecryptor {
    try RandomAccessDecryptor(aead: aead, aad: aad, header: Array(ciphertext.prefix(SegmentLayout.headerSize)),
                              ciphertextSize: Int64(ciphertext.count))
}

/// Seals with the package entry point that writes into a caller's buffer, under a given session.
func sealBuffers(_ aead: StreamingAEAD, _ plaintext: [UInt8], session: StreamSession, workers: Int) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: Int(aead.layout.ciphertextSize(plaintextSize: Int64(plaintext.count))))
    try plaintext.withUnsafeBytes { p in
        try out.withUnsafeMutableBytes { o in try aead.seal(p, into: o, session: session, workers: workers) }
    }
    return out
}

/// Opens with the public buffer entry point on `workers` threads.
func openBuffers(_ aead: StreamingAEAD, _ ciphertext: [UInt8], aad: [UInt8], workers: Int) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: Int(try aead.layout.plaintextSize(ciphertextSize: Int64(ciphertext.count))))
    try ciphertext.withUnsafeBytes { c in
        try out.withUnsafeMutableBytes { o in try aead.open(c, into: o, aad: aad, workers: workers) }
    }
    return out
}

/// Random plaintext ranges within `size`, including the empty, whole and single-byte ranges.
func sampleRanges(size: Int64, count: Int, seed: UInt64) -> [Range<Int64>] {
    var rng = SeededGenerator(seed: seed)
    var ranges: [Range<Int64>] = [0..<size, 0..<0]
    if size > 0 { ranges += [0..<1, (size - 1)..<size] }
    for _ in 0..<count where size > 0 {
        let a = Int64.random(in: 0..<size, using: &rng), b = Int64.random(in: 0...size, using: &rng)
        ranges.append(min(a, b)..<max(a, b))
    }
    return ranges
}
