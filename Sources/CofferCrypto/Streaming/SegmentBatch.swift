/// A run of whole ciphertext segments, contiguous in memory, as a stream encryptor emits them.
/// Segment `firstSegment` of the stream is first; segment 0 carries the 40-byte header in front.
public struct CiphertextSegments {
    /// The stream index of the first segment here.
    public let firstSegment: Int
    /// How many segments.
    public let count: Int
    /// True when the last segment here is the last of the stream.
    public let isFinal: Bool
    /// All the bytes, `count` segments back to back.
    public let bytes: UnsafeRawBufferPointer
    let segmentSize: Int

    init(firstSegment: Int, count: Int, isFinal: Bool, bytes: UnsafeRawBufferPointer, segmentSize: Int) {
        self.firstSegment = firstSegment
        self.count = count
        self.isFinal = isFinal
        self.bytes = bytes
        self.segmentSize = segmentSize
    }

    /// One stored segment, `index` of its stream, as a batch of its own (moving stored
    /// ciphertext from one segment store to another).
    package init(stored bytes: UnsafeRawBufferPointer, index: Int, isFinal: Bool) {
        self.init(firstSegment: index, count: 1, isFinal: isFinal, bytes: bytes, segmentSize: bytes.count)
    }

    /// The bytes of the `j`-th segment here (header included for stream segment 0).
    /// - Parameter j: The segment's position here, from 0 to `count - 1`.
    public subscript(j: Int) -> UnsafeRawBufferPointer {
        precondition(j >= 0 && j < count, "segment index out of range")
        let start = j * segmentSize
        let end = j == count - 1 ? bytes.count : start + segmentSize
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }
}

/// A run of authenticated plaintext segments, as a stream decryptor releases them. The segments
/// are not contiguous (each sits where its ciphertext was); iterate with the subscript.
public struct PlaintextSegments {
    /// The stream index of the first segment here.
    public let firstSegment: Int
    /// How many segments.
    public let count: Int
    let base: UnsafeRawPointer
    let layout: SegmentLayout
    let lastPlaintextCount: Int

    /// The plaintext of the `j`-th segment here.
    /// - Parameter j: The segment's position here, from 0 to `count - 1`.
    public subscript(j: Int) -> UnsafeRawBufferPointer {
        precondition(j >= 0 && j < count, "segment index out of range")
        let index = firstSegment + j
        let offset = j * layout.segmentSize + (index == 0 ? SegmentLayout.headerSize : 0)
        let length = j == count - 1 ? lastPlaintextCount : layout.plaintextCapacity(ofSegment: index)
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }

    /// Total plaintext bytes here.
    public var byteCount: Int {
        count == 0 ? 0 : (0..<count - 1).reduce(lastPlaintextCount) { $0 + layout.plaintextCapacity(ofSegment: firstSegment + $1) }
    }
}

/// Batch sizing shared by the stream encryptor and decryptor.
enum SegmentBatch {
    /// Bytes of ciphertext a batch aims for: enough for every worker to have whole segments.
    static let targetBytes = 8 * 1024 * 1024

    /// Segments per batch for a segment size and worker count (at least two, so one can be
    /// held back while the end of the stream is not yet known).
    static func segments(segmentSize: Int, workers: Int) -> Int {
        max(2, 2 * workers, targetBytes / segmentSize)
    }

    /// The copying form of the `fill` APIs: hands `bytes` to `fill`'s reader, space by space,
    /// until all of them are taken.
    static func copy(_ bytes: UnsafeRawBufferPointer,
                     into fill: ((UnsafeMutableRawBufferPointer) throws -> Int) throws -> Int) throws {
        var rest = bytes
        while !rest.isEmpty {
            _ = try fill { space in
                let n = min(space.count, rest.count)
                space.baseAddress!.copyMemory(from: rest.baseAddress!, byteCount: n)
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
                return n
            }
        }
    }
}
