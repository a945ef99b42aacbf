import Foundation
import Testing
@testable import CofferCrypto

@Suite("Segment layout")
struct SegmentLayoutTests {
    // The table of docs/format.md, checked against Tink.
    @Test(arguments: [(0, 56), (1, 57), (4040, 4096), (4041, 4113), (8120, 8192), (8121, 8209)] as [(Int64, Int64)])
    func ciphertextSizeAt4096(plaintext: Int64, ciphertext: Int64) throws {
        let layout = try SegmentLayout(segmentSize: 4096)
        #expect(layout.ciphertextSize(plaintextSize: plaintext) == ciphertext)
        #expect(try layout.plaintextSize(ciphertextSize: ciphertext) == plaintext)
    }

    @Test(arguments: [4096, 8192, 65_536, 1 << 20])
    func plaintextSizeInvertsCiphertextSize(segmentSize: Int) throws {
        let layout = try SegmentLayout(segmentSize: segmentSize)
        let first = Int64(layout.firstPlaintextCapacity), later = Int64(layout.plaintextCapacity)
        var sizes: [Int64] = [0, 1, 2, 100, 5_000_000]
        for k in Int64(0)..<5 { sizes += [first + k * later - 1, first + k * later, first + k * later + 1] }
        for p in sizes {
            let c = layout.ciphertextSize(plaintextSize: p)
            #expect(try layout.plaintextSize(ciphertextSize: c) == p, "plaintext \(p)")
            #expect(c == 40 + p + 16 * Int64(layout.segmentCount(plaintextSize: p)), "plaintext \(p)")
        }
    }

    @Test func capacitiesAndOffsets() throws {
        let layout = try SegmentLayout(segmentSize: 4096)
        #expect(layout.firstPlaintextCapacity == 4040)
        #expect(layout.plaintextCapacity == 4080)
        #expect(layout.plaintextCapacity(ofSegment: 0) == 4040)
        #expect(layout.plaintextCapacity(ofSegment: 7) == 4080)
        #expect(layout.ciphertextOffset(ofSegment: 0) == 40)
        #expect(layout.ciphertextOffset(ofSegment: 3) == 3 * 4096)
        #expect(layout.plaintextOffset(ofSegment: 0) == 0)
        #expect(layout.plaintextOffset(ofSegment: 1) == 4040)
        #expect(layout.plaintextOffset(ofSegment: 3) == 4040 + 2 * 4080)
        #expect(layout.segment(containingPlaintextOffset: 0) == 0)
        #expect(layout.segment(containingPlaintextOffset: 4039) == 0)
        #expect(layout.segment(containingPlaintextOffset: 4040) == 1)
        #expect(layout.segment(containingPlaintextOffset: 8119) == 1)
        #expect(layout.segment(containingPlaintextOffset: 8120) == 2)
        #expect(layout.segmentCount(plaintextSize: 0) == 1)
        #expect(layout.segmentCount(plaintextSize: 4040) == 1)
        #expect(layout.segmentCount(plaintextSize: 4041) == 2)
        #expect(layout.segmentCount(plaintextSize: 8120) == 2)
        #expect(layout.segmentCount(plaintextSize: 8121) == 3)
    }

    @Test func segmentCountFollowsTheCiphertextSize() throws {
        let layout = try SegmentLayout(segmentSize: 4096)
        #expect([56, 4095, 4096, 4112, 4113, 8192, 8209].map { layout.segmentCount(ciphertextSize: $0) } == [1, 1, 1, 2, 2, 2, 3])
        // A tag-only final segment after a full one: 4040 bytes of plaintext in two segments.
        #expect(try layout.plaintextSize(ciphertextSize: 4112) == 4040)
        #expect(layout.segmentCount(plaintextSize: 4040) == 1)
    }

    // Sizes no stream can have: shorter than header and tag, or ending 1-15 bytes into a segment.
    @Test(arguments: [0, 1, 39, 40, 55, 4097, 4111, 8193, 8207, 3 * 4096 + 15] as [Int64])
    func impossibleCiphertextSizesAreTruncated(size: Int64) throws {
        let layout = try SegmentLayout(segmentSize: 4096)
        #expect(errorCode { _ = try layout.plaintextSize(ciphertextSize: size) } == .truncated)
    }

    @Test func tooManySegmentsIsInvalidFormat() throws {
        let layout = try SegmentLayout(segmentSize: 4096)
        let size = (SegmentLayout.maximumSegmentCount + 1) * 4096
        #expect(errorCode { _ = try layout.plaintextSize(ciphertextSize: size) } == .invalidFormat)
        #expect(try layout.plaintextSize(ciphertextSize: SegmentLayout.maximumSegmentCount * 4096) > 0)
    }

    @Test(arguments: [0, -1, 56, 57, 4095, 64 * 1024 * 1024 + 1, Int.max])
    func segmentSizeOutOfRangeIsRejected(size: Int) throws {
        #expect(errorCode { _ = try SegmentLayout(segmentSize: size) } == .invalidArgument)
        #expect(errorCode { _ = try StreamingAEAD(key: try randomKey(), segmentSize: size) } == .invalidArgument)
    }

    @Test(arguments: [4096, 65_536, 1 << 20, 64 * 1024 * 1024])
    func segmentSizeInRangeIsAccepted(size: Int) throws {
        #expect(try SegmentLayout(segmentSize: size).segmentSize == size)
        #expect(try StreamingAEAD(key: try randomKey(), segmentSize: size).layout.segmentSize == size)
    }

    @Test func defaultSegmentSizeIsOneMiB() throws {
        #expect(try SegmentLayout().segmentSize == 1 << 20)
        #expect(try StreamingAEAD(key: try randomKey()).layout.segmentSize == 1 << 20)
    }

    @Test(arguments: [0, 16, 31, 33, 64])
    func streamingKeyMustBe32Bytes(size: Int) throws {
        let k = SecureBytes(copying: (0..<size).map { UInt8($0) })
        #expect(errorCode { _ = try StreamingAEAD(key: k, segmentSize: 4096) } == .invalidKey)
    }
}
