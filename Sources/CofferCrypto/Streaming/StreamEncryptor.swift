import Foundation

/// Encrypts a stream of any length into Tink's AES-GCM-HKDF format with bounded memory.
///
/// Plaintext goes into a batch buffer (``append(_:to:)`` copies it; ``fill(to:_:)`` lets the
/// caller read straight into it); full batches are sealed in place on all workers and handed to
/// the sink as ``CiphertextSegments``. The last full segment of a batch is held back until more
/// input or the end arrives, because the final segment is sealed differently. Memory is one
/// batch of `max(2, 2 × workers, 8 MiB / segment size)` segments, whatever the stream's length.
public final class StreamEncryptor {
    /// Sizes and offsets.
    public let layout: SegmentLayout
    /// The stream's 40-byte header (also the first bytes the sink receives).
    public var header: [UInt8] { session.header }

    private let session: StreamSession
    private let parallel: ParallelSegments
    private let slots: Int
    private let buffer: UnsafeMutableRawBufferPointer
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

    package init(aead: StreamingAEAD, session: StreamSession, workers: Int) throws {
        layout = aead.layout
        self.session = session
        parallel = try ParallelSegments(session: session, encrypting: true, workers: workers)
        slots = SegmentBatch.segments(segmentSize: layout.segmentSize, workers: workers)
        buffer = .allocate(byteCount: slots * layout.segmentSize, alignment: 64)
        buffer.copyBytes(from: session.header)
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
        precondition(!finished, "StreamEncryptor used after finish()")
        if slotFill == layout.plaintextCapacity(ofSegment: batchStart + slot) {
            if slot == slots - 1 { try flushHoldingLast(to: sink) }
            slot += 1
            slotFill = 0
        }
        let start = bodyOffset(slot) + slotFill
        let room = layout.plaintextCapacity(ofSegment: batchStart + slot) - slotFill
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
        try SegmentBatch.copy(bytes) { reader in try fill(to: sink, reader) }
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
