import Foundation

/// Encrypts a stream of any length into Tink's AES-GCM-HKDF format with bounded memory.
///
/// Plaintext goes into a batch buffer (``append(_:to:)`` copies it; ``fill(to:_:)`` lets the
/// caller read straight into it); full batches are sealed in place on all workers and handed to
/// the sink as ``CiphertextSegments``. The last full segment of a batch is held back until more
/// input or the end arrives, because the final segment is sealed differently. Memory is at most
/// one batch of `max(2, 2 × workers, 8 MiB / segment size)` segments (or the batch the caller
/// sets), whatever the stream's length; the buffer starts small and grows, by doubling, only as
/// far as the plaintext reaches, so a 4 KiB stream never holds a gigabyte-sized batch.
public final class StreamEncryptor {
    /// Sizes and offsets.
    public let layout: SegmentLayout
    /// The stream's 40-byte header (also the first bytes the sink receives).
    public var header: [UInt8] { session.header }

    private let session: StreamSession
    private let parallel: ParallelSegments
    private let slots: Int
    private var buffer: UnsafeMutableRawBufferPointer
    /// The buffer's size once grown to a whole batch.
    private let batchBytes: Int
    private var batchStart = 0
    private var slot = 0
    private var slotFill = 0
    private var finished = false
    /// Bytes of `buffer` ever written: only these need wiping (a small stream touches little).
    private var touched = SegmentLayout.headerSize

    /// Starts a stream with a fresh random header.
    /// - Parameters:
    ///   - aead: The key and segment size.
    ///   - aad: Associated data bound to the whole stream.
    ///   - workers: Threads used to seal a batch (default: one per core).
    /// - Throws: ``CofferError`` if the key cannot be derived.
    public convenience init(aead: StreamingAEAD, aad: some ContiguousBytes,
                            workers: Int = StreamingAEAD.defaultWorkers) throws {
        try self.init(aead: aead, session: aead.newSession(aad: aad), workers: workers)
    }

    /// Starts a stream under `session`.
    /// - Parameters:
    ///   - workers: Threads used to seal a batch.
    ///   - batchSegments: Segments per batch (at least 2); nil for the default sizing.
    ///   - expectedBytes: Plaintext the caller expects to write, when it knows: the buffer starts
    ///     at that stream's size instead of 64 KiB.
    package init(aead: StreamingAEAD, session: StreamSession, workers: Int, batchSegments: Int? = nil,
                 expectedBytes: Int? = nil) throws {
        layout = aead.layout
        self.session = session
        parallel = try ParallelSegments(session: session, encrypting: true, workers: workers)
        slots = max(2, batchSegments ?? SegmentBatch.segments(segmentSize: layout.segmentSize, workers: workers))
        batchBytes = slots * layout.segmentSize
        let layout = aead.layout
        let initial = expectedBytes.map { Int(clamping: layout.ciphertextSize(plaintextSize: Int64(max(0, $0)))) } ?? Self.initialBytes
        buffer = .allocate(byteCount: min(batchBytes, max(SegmentLayout.headerSize + SegmentLayout.tagSize, initial)), alignment: 64)
        buffer.copyBytes(from: session.header)
    }

    /// Where the buffer starts when the stream's size is not known.
    static let initialBytes = 64 * 1024

    /// Bytes the batch buffer holds now (it grows up to one batch).
    package var bufferBytes: Int { buffer.count }

    /// Grows the buffer, by doubling, to hold at least `needed` bytes (at most one batch); the
    /// old buffer is wiped before it is freed.
    private func reserveBuffer(_ needed: Int) {
        guard needed > buffer.count else { return }
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: min(batchBytes, max(needed, 2 * buffer.count)), alignment: 64)
        grown.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: touched)
        SecureBytes.wipe(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<touched]))
        buffer.deallocate()
        buffer = grown
    }

    deinit {
        SecureBytes.wipe(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<touched]))
        buffer.deallocate()
    }

    @inline(__always)
    private func bodyOffset(_ slot: Int) -> Int {
        slot * layout.segmentSize + (batchStart + slot == 0 ? SegmentLayout.headerSize : 0)
    }

    /// Lets `read` write plaintext directly into the batch buffer.
    /// - Parameters:
    ///   - sink: Receives sealed segments when a batch fills up.
    ///   - read: Given free space, writes plaintext into its start and returns the byte count
    ///     (0 means it had nothing more to give).
    /// - Returns: What `read` returned.
    /// - Throws: Errors from sealing, from `sink` or from `read`.
    @discardableResult
    public func fill(to sink: (CiphertextSegments) throws -> Void,
                     _ read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> Int {
        try fill(to: sink, atMost: .max, read)
    }

    /// ``fill(to:_:)`` offering at most `limit` bytes of space (what the caller has to give), so
    /// the buffer grows only as far as the plaintext reaches.
    private func fill(to sink: (CiphertextSegments) throws -> Void, atMost limit: Int,
                      _ read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> Int {
        precondition(!finished, "StreamEncryptor used after finish()")
        if slotFill == layout.plaintextCapacity(ofSegment: batchStart + slot) {
            if slot == slots - 1 { try flushHoldingLast(to: sink) }
            slot += 1
            slotFill = 0
        }
        let start = bodyOffset(slot) + slotFill
        let room = min(limit, layout.plaintextCapacity(ofSegment: batchStart + slot) - slotFill)
        reserveBuffer(start + room + SegmentLayout.tagSize)
        let n = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[start..<start + room]))
        precondition(n >= 0 && n <= room, "fill's reader returned an impossible count")
        slotFill += n
        touched = max(touched, min(buffer.count, start + n + SegmentLayout.tagSize))
        return n
    }

    /// Encrypts more plaintext.
    /// - Parameters:
    ///   - bytes: Plaintext of any length.
    ///   - sink: Receives sealed segments when a batch fills up.
    /// - Throws: ``CofferError`` `cryptoFailure` when libcrypto fails; errors of `sink`.
    public func append(_ bytes: UnsafeRawBufferPointer, to sink: (CiphertextSegments) throws -> Void) throws {
        var rest = bytes
        while !rest.isEmpty {
            let n = try fill(to: sink, atMost: rest.count) { space in
                space.baseAddress!.copyMemory(from: rest.baseAddress!, byteCount: space.count)
                return space.count
            }
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    /// Encrypts more plaintext.
    /// - Parameters:
    ///   - bytes: Plaintext of any length.
    ///   - sink: Receives sealed segments when a batch fills up.
    /// - Throws: ``CofferError`` `cryptoFailure` when libcrypto fails; errors of `sink`.
    public func append(_ bytes: some ContiguousBytes, to sink: (CiphertextSegments) throws -> Void) throws {
        try bytes.withUnsafeBytes { try append($0, to: sink) }
    }

    /// Seals what is left, the final segment last, and hands it to `sink`. Call once.
    ///
    /// The segments handed to `sink` stay valid, unchanged, until the encryptor is released
    /// (nothing writes to its buffer after this), so a caller may keep them for a later commit.
    /// - Parameter sink: Receives the last sealed segments.
    /// - Throws: ``CofferError`` `cryptoFailure` when libcrypto fails; errors of `sink`.
    public func finish(to sink: (CiphertextSegments) throws -> Void) throws {
        precondition(!finished, "StreamEncryptor.finish() called twice")
        finished = true
        var last = slot, lastFill = slotFill
        if slotFill == 0 && slot > 0 {
            last = slot - 1
            lastFill = layout.plaintextCapacity(ofSegment: batchStart + last)
        }
        try seal(count: last + 1, lastFill: lastFill, isFinal: true, to: sink)
    }

    /// Seals all slots but the last (which may turn out to be the stream's final segment),
    /// emits them, and moves the held-back slot to the front.
    private func flushHoldingLast(to sink: (CiphertextSegments) throws -> Void) throws {
        let capacity = layout.plaintextCapacity
        try seal(count: slots - 1, lastFill: layout.plaintextCapacity(ofSegment: batchStart + slots - 2),
                 isFinal: false, to: sink)
        let from = bodyOffset(slots - 1)
        batchStart += slots - 1
        buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + from, byteCount: capacity)
        slot = 0
        slotFill = capacity
    }

    private func seal(count: Int, lastFill: Int, isFinal: Bool,
                      to sink: (CiphertextSegments) throws -> Void) throws {
        let first = batchStart, base = buffer.baseAddress!, layout = self.layout
        guard Int64(first + count) <= SegmentLayout.maximumSegmentCount else {
            // Segment indexes are 32 bits in the nonce: going on would reuse a nonce.
            throw CofferError(.invalidArgument, "stream exceeds 2^32 segments; use a larger segment size")
        }
        let failure = parallel.run(count: count, minimumBytesPerWorker: 256 * 1024, bytesPerSegment: layout.segmentSize) {
            (cipher, j) throws in
            let index = first + j
            let fill = j == count - 1 ? lastFill : layout.plaintextCapacity(ofSegment: index)
            let offset = j * layout.segmentSize + (index == 0 ? SegmentLayout.headerSize : 0)
            try cipher.seal(segment: index, isLast: isFinal && j == count - 1,
                            plaintext: base + offset, count: fill, output: base + offset)
        }
        if let failure { throw failure.error }
        let end = (count - 1) * layout.segmentSize + (first + count - 1 == 0 ? SegmentLayout.headerSize : 0)
            + lastFill + SegmentLayout.tagSize
        try sink(CiphertextSegments(firstSegment: first, count: count, isFinal: isFinal,
                                    bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<end]),
                                    segmentSize: layout.segmentSize))
    }
}
