import Foundation

/// Decrypts any byte range of a stream, fetching and authenticating only the segments that
/// range touches. One scratch buffer of one segment, reused for every read.
public final class RandomAccessDecryptor {
    /// Sizes and offsets.
    public let layout: SegmentLayout
    /// The plaintext size the ciphertext size implies.
    public let plaintextSize: Int64
    /// Number of segments in the stream.
    public let segmentCount: Int

    private let cipher: SegmentCipher
    private let ciphertextSize: Int64
    private let scratch: UnsafeMutableRawBufferPointer

    /// Prepares random access to one stream.
    /// - Parameters:
    ///   - aead: The key and segment size it was sealed with.
    ///   - aad: The associated data it was sealed with.
    ///   - header: The stream's first 40 bytes.
    ///   - ciphertextSize: The stream's total size in bytes (it decides which segment is final).
    /// - Throws: ``CofferError`` `invalidFormat` or `truncated`.
    public init(aead: StreamingAEAD, aad: some ContiguousBytes, header: [UInt8], ciphertextSize: Int64) throws {
        layout = aead.layout
        self.ciphertextSize = ciphertextSize
        plaintextSize = try layout.plaintextSize(ciphertextSize: ciphertextSize)
        segmentCount = layout.segmentCount(ciphertextSize: ciphertextSize)
        cipher = try aead.session(header: header, aad: aad).makeCipher(encrypting: false)
        scratch = .allocate(byteCount: layout.segmentSize, alignment: 64)
    }

    deinit {
        SecureBytes.wipe(scratch)
        scratch.deallocate()
    }

    /// Stream bytes `[start, end)` holding segment `index`'s ciphertext (after the header for 0).
    /// - Parameter index: The segment, from 0.
    /// - Returns: The byte range within the stream.
    public func ciphertextRange(ofSegment index: Int) -> Range<Int64> {
        let start = layout.ciphertextOffset(ofSegment: index)
        let end = index == segmentCount - 1 ? ciphertextSize : Int64(index + 1) * Int64(layout.segmentSize)
        return start..<end
    }

    /// Decrypts the plaintext bytes in `range`. A read that reaches the end of the plaintext also
    /// authenticates the final segment (even when it holds no plaintext), so a stream cut short
    /// cannot pass for a shorter one.
    /// - Parameters:
    ///   - range: Plaintext offsets; clamped to the plaintext size.
    ///   - segment: Writes segment `index`'s ciphertext (``ciphertextRange(ofSegment:)``) into the
    ///     buffer and returns its length.
    ///   - sink: Receives the authenticated plaintext, in order.
    /// - Throws: ``CofferError`` `authenticationFailed` or `truncated`, and errors of the closures.
    public func read(_ range: Range<Int64>,
                     segment: (Int, UnsafeMutableRawBufferPointer) throws -> Int,
                     to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let end = min(plaintextSize, range.upperBound), start = min(max(0, range.lowerBound), end)
        let reachesEnd = range.upperBound >= plaintextSize
        guard start < end || reachesEnd else { return }
        let first = start < end ? layout.segment(containingPlaintextOffset: start) : segmentCount - 1
        let last = reachesEnd ? segmentCount - 1 : layout.segment(containingPlaintextOffset: end - 1)
        for index in first...last {
            let expected = ciphertextRange(ofSegment: index).count
            let got = try segment(index, scratch)
            guard got == expected else {
                throw CofferError(.truncated, "segment \(index) is \(got) bytes where the stream size says \(expected)")
            }
            try cipher.open(segment: index, isLast: index == segmentCount - 1, ciphertext: scratch.baseAddress!,
                            count: got, output: scratch.baseAddress!)
            let segmentStart = layout.plaintextOffset(ofSegment: index)
            let from = Int(max(start, segmentStart) - segmentStart)
            let to = Int(min(end, segmentStart + Int64(got - SegmentLayout.tagSize)) - segmentStart)
            try sink(UnsafeRawBufferPointer(rebasing: scratch[from..<to]))
        }
    }
}
