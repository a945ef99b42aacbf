/// The sizes and offsets of Tink's AES-GCM-HKDF streaming format for one segment size.
///
/// ```
/// stream    = header (40) || segment 0 || ... || segment n-1
/// header    = 0x28 || salt (32) || nonce prefix (7)
/// segment i = AES-256-GCM ciphertext || tag (16)
/// ```
/// Every segment but the last is exactly `segmentSize` bytes of ciphertext, the first one
/// counting the header, so segment `i >= 1` starts at byte `i * segmentSize`.
public struct SegmentLayout: Sendable, Hashable {
    /// Header length in bytes (its first byte says so).
    public static let headerSize = 40
    /// Salt length in bytes (equals the derived key size).
    public static let saltSize = 32
    /// Nonce prefix length in bytes.
    public static let noncePrefixSize = 7
    /// GCM tag length in bytes.
    public static let tagSize = 16
    /// The smallest segment size Coffer accepts (4 KiB).
    public static let minimumSegmentSize = 4 * 1024
    /// The largest segment size Coffer accepts (64 MiB).
    public static let maximumSegmentSize = 64 * 1024 * 1024
    /// The default segment size (1 MiB).
    public static let defaultSegmentSize = 1024 * 1024
    /// Tink allows at most 2^32 segments per stream.
    public static let maximumSegmentCount: Int64 = 1 << 32

    /// Ciphertext segment size in bytes.
    public let segmentSize: Int

    /// Creates a layout.
    /// - Parameter segmentSize: 4 KiB to 64 MiB.
    /// - Throws: ``CofferError`` `invalidArgument` outside that range.
    public init(segmentSize: Int = SegmentLayout.defaultSegmentSize) throws {
        guard (SegmentLayout.minimumSegmentSize...SegmentLayout.maximumSegmentSize).contains(segmentSize) else {
            throw CofferError(.invalidArgument,
                              "segment size \(segmentSize) is outside 4096...67108864 bytes (4 KiB to 64 MiB)")
        }
        self.segmentSize = segmentSize
    }

    /// Plaintext bytes in segment 0.
    public var firstPlaintextCapacity: Int { segmentSize - SegmentLayout.tagSize - SegmentLayout.headerSize }
    /// Plaintext bytes in every later full segment.
    public var plaintextCapacity: Int { segmentSize - SegmentLayout.tagSize }

    /// Plaintext capacity of segment `index`.
    /// - Parameter index: The segment, from 0.
    /// - Returns: Its plaintext bytes when full.
    @inline(__always)
    public func plaintextCapacity(ofSegment index: Int) -> Int {
        index == 0 ? firstPlaintextCapacity : plaintextCapacity
    }

    /// Offset of segment `index`'s ciphertext body within the stream (after the header for segment 0).
    /// - Parameter index: The segment, from 0.
    /// - Returns: A byte offset within the stream.
    @inline(__always)
    public func ciphertextOffset(ofSegment index: Int) -> Int64 {
        index == 0 ? Int64(SegmentLayout.headerSize) : Int64(index) * Int64(segmentSize)
    }

    /// Offset of segment `index`'s first plaintext byte within the plaintext.
    /// - Parameter index: The segment, from 0.
    /// - Returns: A byte offset within the plaintext.
    @inline(__always)
    public func plaintextOffset(ofSegment index: Int) -> Int64 {
        index == 0 ? 0 : Int64(firstPlaintextCapacity) + Int64(index - 1) * Int64(plaintextCapacity)
    }

    /// The segment holding plaintext byte `offset`.
    /// - Parameter offset: A plaintext offset (not negative).
    /// - Returns: The segment index, from 0.
    public func segment(containingPlaintextOffset offset: Int64) -> Int {
        if offset < Int64(firstPlaintextCapacity) { return 0 }
        return 1 + Int((offset - Int64(firstPlaintextCapacity)) / Int64(plaintextCapacity))
    }

    /// How many segments a plaintext of `size` bytes takes (at least one).
    /// - Parameter size: Plaintext bytes.
    /// - Returns: The segment count.
    public func segmentCount(plaintextSize size: Int64) -> Int {
        if size <= Int64(firstPlaintextCapacity) { return 1 }
        let rest = size - Int64(firstPlaintextCapacity)
        return 1 + Int((rest + Int64(plaintextCapacity) - 1) / Int64(plaintextCapacity))
    }

    /// How many segments a well-formed ciphertext of `size` bytes holds. Readers must count from
    /// the ciphertext size, not from the plaintext size: Tink's readers accept a final segment that
    /// holds only its tag after a full one, and then the two counts differ by one.
    /// - Parameter size: Ciphertext bytes, header included.
    /// - Returns: The segment count.
    public func segmentCount(ciphertextSize size: Int64) -> Int {
        Int((size + Int64(segmentSize) - 1) / Int64(segmentSize))
    }

    /// Ciphertext size of a plaintext of `size` bytes, header included.
    /// - Parameter size: Plaintext bytes.
    /// - Returns: Ciphertext bytes: header, plaintext and one tag per segment.
    public func ciphertextSize(plaintextSize size: Int64) -> Int64 {
        Int64(SegmentLayout.headerSize) + size + Int64(segmentCount(plaintextSize: size)) * Int64(SegmentLayout.tagSize)
    }

    /// Plaintext size of a well-formed ciphertext of `size` bytes.
    /// - Parameter size: Ciphertext bytes, header included.
    /// - Returns: Plaintext bytes.
    /// - Throws: ``CofferError`` `truncated` when no plaintext size gives that ciphertext size.
    public func plaintextSize(ciphertextSize size: Int64) throws -> Int64 {
        let minimum = Int64(SegmentLayout.headerSize + SegmentLayout.tagSize)
        guard size >= minimum else {
            throw CofferError(.truncated, "ciphertext of \(size) bytes is shorter than header and one tag (\(minimum))")
        }
        let full = size / Int64(segmentSize)
        let tail = size % Int64(segmentSize)
        let segments = tail == 0 ? full : full + 1
        guard tail == 0 || tail >= Int64(SegmentLayout.tagSize) || full == 0 else {
            throw CofferError(.truncated, "ciphertext ends \(tail) bytes into a segment, shorter than a tag: truncated or corrupt")
        }
        guard segments <= SegmentLayout.maximumSegmentCount else {
            throw CofferError(.invalidFormat, "ciphertext has more than 2^32 segments")
        }
        return size - Int64(SegmentLayout.headerSize) - segments * Int64(SegmentLayout.tagSize)
    }
}
