import Dispatch
import Foundation

/// Opens a stream whose segments arrive one at a time, in order, with the segment count known in
/// advance (rows of a database, for example). While the caller copies one batch of segments in,
/// a second thread authenticates and decrypts the previous batch, so the copy and the cipher
/// work overlap. Memory is two batches. Only authenticated segments reach the sink, in order.
public final class PipelinedSegmentOpener {
    /// Sizes and offsets.
    public let layout: SegmentLayout
    /// How many segments the stream has.
    public let segmentCount: Int

    private let aead: StreamingAEAD
    private let aad: [UInt8]
    private let slots: Int
    private let buffers: [UnsafeMutableRawBufferPointer]
    private let lengths: [UnsafeMutableBufferPointer<Int>]
    private let queue = DispatchQueue(label: "coffer.segment-opener")
    private var cipher: SegmentCipher?
    private var current = 0, filled = 0, nextIndex = 0
    private var inFlight: (buffer: Int, first: Int, count: Int, group: DispatchGroup)?
    private var failure: (index: Int, error: CofferError)?
    private var failed = false
    /// Bytes of each buffer ever written: only these need wiping.
    private var touched = [0, 0]

    /// Prepares to open a stream.
    /// - Parameters:
    ///   - aead: The key and segment size it was sealed with.
    ///   - aad: The associated data it was sealed with.
    ///   - segmentCount: How many segments it has (from trusted or checked metadata: a wrong count
    ///     makes authentication fail, because the final segment is sealed differently).
    /// - Throws: ``CofferError`` `invalidFormat` for a count outside 1 to 2^32.
    public init(aead: StreamingAEAD, aad: some ContiguousBytes, segmentCount: Int) throws {
        guard segmentCount >= 1, Int64(segmentCount) <= SegmentLayout.maximumSegmentCount else {
            throw CofferError(.invalidFormat, "a stream has 1 to 2^32 segments, not \(segmentCount)")
        }
        self.aead = aead
        self.layout = aead.layout
        self.aad = aad.withUnsafeBytes { Array($0) }
        self.segmentCount = segmentCount
        // A small stream gets buffers of its own size, not a whole batch.
        let slots = min(segmentCount, max(2, SegmentBatch.targetBytes / aead.layout.segmentSize))
        self.slots = slots
        buffers = (0..<2).map { _ in .allocate(byteCount: slots * aead.layout.segmentSize, alignment: 64) }
        lengths = (0..<2).map { _ in .allocate(capacity: slots) }
    }

    deinit {
        inFlight?.group.wait()
        for (buffer, used) in zip(buffers, touched) {
            SecureBytes.wipe(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<used]))
            buffer.deallocate()
        }
        for length in lengths { length.deallocate() }
    }

    /// Adds the next segment as stored: segment 0 with the 40-byte header in front.
    /// - Parameters:
    ///   - stored: The segment's bytes.
    ///   - sink: Receives authenticated plaintext of earlier segments, in order.
    /// - Throws: ``CofferError`` `authenticationFailed` (also for any call after a failure),
    ///   `invalidFormat` for more segments than announced, `truncated` for a segment of the wrong
    ///   size; errors of `sink`.
    public func add(_ stored: UnsafeRawBufferPointer, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !failed else { throw CofferError(.authenticationFailed, "stream decryption already failed") }
        let index = nextIndex
        guard index < segmentCount else {
            failed = true
            throw CofferError(.invalidFormat, "more segments than the stream's \(segmentCount)")
        }
        var body = stored
        if index == 0 {
            guard stored.count >= SegmentLayout.headerSize + SegmentLayout.tagSize else {
                failed = true
                throw CofferError(.truncated, "segment 0 is \(stored.count) bytes, shorter than header and tag")
            }
            let session = try aead.session(header: Array(stored.prefix(SegmentLayout.headerSize)), aad: aad)
            cipher = try session.makeCipher(encrypting: false)
            body = UnsafeRawBufferPointer(rebasing: stored[SegmentLayout.headerSize...])
        }
        let expected = layout.segmentSize - (index == 0 ? SegmentLayout.headerSize : 0)
        let isLast = index == segmentCount - 1
        guard isLast ? (body.count >= SegmentLayout.tagSize && body.count <= expected) : body.count == expected else {
            failed = true
            throw CofferError(.truncated, "segment \(index) is \(body.count) bytes where the layout says \(isLast ? "at most \(expected)" : String(expected))")
        }
        let slot = buffers[current].baseAddress! + filled * layout.segmentSize
        slot.copyMemory(from: body.baseAddress!, byteCount: body.count)
        lengths[current][filled] = body.count
        touched[current] = max(touched[current], filled * layout.segmentSize + body.count)
        filled += 1
        nextIndex += 1
        // The last batch with nothing in flight (a small object) is opened on this thread.
        if filled == slots { try launch(to: sink, inline: inFlight == nil && nextIndex == segmentCount) }
    }

    /// Opens what is left. Fails if fewer segments arrived than the stream has.
    /// - Parameter sink: Receives the remaining authenticated plaintext, in order.
    /// - Throws: ``CofferError`` `truncated` when segments are missing, `authenticationFailed`;
    ///   errors of `sink`.
    public func finish(to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !failed else { throw CofferError(.authenticationFailed, "stream decryption already failed") }
        guard nextIndex == segmentCount else {
            failed = true
            throw CofferError(.truncated, "segment \(nextIndex) of \(segmentCount) is missing")
        }
        if filled > 0 { try launch(to: sink, inline: inFlight == nil) }
        try drain(to: sink)
    }

    /// Hands the current batch to the decrypting thread, after emitting the batch before it.
    /// With `inline`, the batch is opened on the caller's thread (a small object's only batch:
    /// nothing to overlap with, so no thread hop).
    private func launch(to sink: (UnsafeRawBufferPointer) throws -> Void, inline: Bool = false) throws {
        try drain(to: sink)
        let group = DispatchGroup()
        let buffer = current, first = nextIndex - filled, count = filled, total = segmentCount
        nonisolated(unsafe) let cipher = self.cipher!, base = buffers[buffer].baseAddress!, sizes = lengths[buffer]
        let segmentSize = layout.segmentSize
        nonisolated(unsafe) let owner = self
        let work: @Sendable () -> Void = {
            for j in 0..<count {
                do {
                    try cipher.open(segment: first + j, isLast: first + j == total - 1,
                                    ciphertext: base + j * segmentSize, count: sizes[j], output: base + j * segmentSize)
                } catch {
                    owner.failure = (j, error as? CofferError ?? CofferError(.cryptoFailure, "segment open failed"))
                    return
                }
            }
        }
        if inline { work() } else { queue.async(group: group, execute: work) }
        inFlight = (buffer, first, count, group)
        current = 1 - current
        filled = 0
    }

    /// Waits for the batch in flight and emits its authenticated segments.
    private func drain(to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let batch = inFlight else { return }
        batch.group.wait()
        inFlight = nil
        let good = failure?.index ?? batch.count
        let base = buffers[batch.buffer].baseAddress!
        do {
            for j in 0..<good {
                try sink(UnsafeRawBufferPointer(start: base + j * layout.segmentSize,
                                                count: lengths[batch.buffer][j] - SegmentLayout.tagSize))
            }
        } catch {
            failed = true
            throw error
        }
        if let failure {
            failed = true
            SecureBytes.wipe(UnsafeMutableRawBufferPointer(rebasing: buffers[batch.buffer][0..<touched[batch.buffer]]))
            throw failure.error
        }
    }
}
