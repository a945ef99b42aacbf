import Foundation

/// Checks and decrypts a Tink AES-GCM-HKDF stream of any length with bounded memory.
///
/// Ciphertext goes into a batch buffer (``append(_:to:)`` copies it; ``fill(to:_:)`` lets the
/// caller read straight into it). Segments are authenticated and decrypted in place on all
/// workers; only segments that passed authentication reach the sink, in order. After a failure
/// the decryptor refuses further use. The last full segment of a batch is held back until more
/// input or the end arrives, because the final segment is authenticated differently. Memory is
/// one batch of `max(2, 2 × workers, 8 MiB / segment size)` segments.
public final class StreamDecryptor {
    /// Sizes and offsets.
    public let layout: SegmentLayout

    private let aead: StreamingAEAD
    private let aad: [UInt8]
    private let workers: Int
    private var parallel: ParallelSegments?
    private let slots: Int
    private let buffer: UnsafeMutableRawBufferPointer
    private var batchStart = 0
    private var filled = 0
    private var failed = false
    private var finished = false
    /// Bytes of `buffer` ever written: only these need wiping.
    private var touched = 0

    /// Prepares to open a stream.
    /// - Parameters:
    ///   - aead: The key and segment size it was sealed with.
    ///   - aad: The associated data it was sealed with.
    ///   - workers: Threads used to open a batch (default: one per core).
    public init(aead: StreamingAEAD, aad: some ContiguousBytes, workers: Int = StreamingAEAD.defaultWorkers) {
        self.aead = aead
        self.layout = aead.layout
        self.aad = aad.withUnsafeBytes { Array($0) }
        self.workers = workers
        slots = SegmentBatch.segments(segmentSize: layout.segmentSize, workers: workers)
        buffer = .allocate(byteCount: slots * layout.segmentSize, alignment: 64)
    }

    deinit {
        SecureBytes.wipe(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<touched]))
        buffer.deallocate()
    }

    /// Lets `read` write ciphertext directly into the batch buffer.
    /// - Parameters:
    ///   - sink: Receives authenticated plaintext segments when a batch fills up.
    ///   - read: Given free space, writes ciphertext into its start and returns the byte count
    ///     (0 means it had nothing more to give).
    /// - Returns: What `read` returned.
    /// - Throws: ``CofferError`` `authenticationFailed`, `invalidFormat` or `truncated`, and errors
    ///   from `sink` or `read`.
    @discardableResult
    public func fill(to sink: (PlaintextSegments) throws -> Void,
                     _ read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> Int {
        try checkUsable()
        if filled == buffer.count { try flushHoldingLast(to: sink) }
        let n = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
        precondition(n >= 0 && n <= buffer.count - filled, "fill's reader returned an impossible count")
        filled += n
        touched = max(touched, filled)
        return n
    }

    /// Decrypts more ciphertext.
    /// - Parameters:
    ///   - bytes: The next ciphertext bytes, of any length.
    ///   - sink: Receives authenticated plaintext segments when a batch fills up.
    /// - Throws: ``CofferError`` `authenticationFailed`, `invalidFormat` or `truncated` (and for
    ///   any call after a failure); errors of `sink`.
    public func append(_ bytes: UnsafeRawBufferPointer, to sink: (PlaintextSegments) throws -> Void) throws {
        try SegmentBatch.copy(bytes) { reader in try fill(to: sink, reader) }
    }

    /// Decrypts more ciphertext.
    /// - Parameters:
    ///   - bytes: The next ciphertext bytes, of any length.
    ///   - sink: Receives authenticated plaintext segments when a batch fills up.
    /// - Throws: ``CofferError`` `authenticationFailed`, `invalidFormat` or `truncated` (and for
    ///   any call after a failure); errors of `sink`.
    public func append(_ bytes: some ContiguousBytes, to sink: (PlaintextSegments) throws -> Void) throws {
        try bytes.withUnsafeBytes { try append($0, to: sink) }
    }

    /// Opens what is left, treating its last segment as the stream's final one. Call once, after
    /// all ciphertext; a stream cut short fails here.
    /// - Parameter sink: Receives the remaining authenticated plaintext segments.
    /// - Throws: ``CofferError`` `truncated`, `authenticationFailed` or `invalidFormat`; errors
    ///   of `sink`.
    public func finish(to sink: (PlaintextSegments) throws -> Void) throws {
        try checkUsable()
        finished = true
        if batchStart == 0 && filled < SegmentLayout.headerSize + SegmentLayout.tagSize {
            failed = true
            throw CofferError(.truncated, "ciphertext is \(filled) bytes, shorter than header and one tag (56): truncated or not a Coffer stream")
        }
        let count = (filled + layout.segmentSize - 1) / layout.segmentSize
        let lastCount = filled - (count - 1) * layout.segmentSize
        try open(count: count, lastCiphertextCount: lastCount, isFinal: true, to: sink)
    }

    private func checkUsable() throws {
        if failed { throw CofferError(.authenticationFailed, "stream decryption already failed; start again") }
        precondition(!finished, "StreamDecryptor used after finish()")
    }

    private func flushHoldingLast(to sink: (PlaintextSegments) throws -> Void) throws {
        try open(count: slots - 1, lastCiphertextCount: layout.segmentSize, isFinal: false, to: sink)
        let from = (slots - 1) * layout.segmentSize
        buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + from, byteCount: layout.segmentSize)
        batchStart += slots - 1
        filled = layout.segmentSize
    }

    private func workersForSession() throws -> ParallelSegments {
        if let parallel { return parallel }
        let header = Array(UnsafeRawBufferPointer(rebasing: buffer[0..<SegmentLayout.headerSize]))
        let session = try aead.session(header: header, aad: aad)
        let made = try ParallelSegments(session: session, encrypting: false, workers: workers)
        parallel = made
        return made
    }

    private func open(count: Int, lastCiphertextCount: Int, isFinal: Bool,
                      to sink: (PlaintextSegments) throws -> Void) throws {
        let parallel: ParallelSegments
        do { parallel = try workersForSession() } catch { failed = true; throw error }
        let first = batchStart, base = buffer.baseAddress!, layout = self.layout
        if first + count > Int(SegmentLayout.maximumSegmentCount) {
            failed = true
            throw CofferError(.invalidFormat, "stream has more than 2^32 segments")
        }
        let failure = parallel.run(count: count, minimumBytesPerWorker: 256 * 1024, bytesPerSegment: layout.segmentSize) {
            (cipher, j) throws in
            let index = first + j
            let header = index == 0 ? SegmentLayout.headerSize : 0
            let offset = j * layout.segmentSize + header
            let length = (j == count - 1 ? lastCiphertextCount : layout.segmentSize) - header
            try cipher.open(segment: index, isLast: isFinal && j == count - 1,
                            ciphertext: base + offset, count: length, output: base + offset)
        }
        let good = failure?.index ?? count
        if good > 0 {
            let lastHeader = first + good - 1 == 0 ? SegmentLayout.headerSize : 0
            let lastCipher = good == count ? lastCiphertextCount : layout.segmentSize
            do {
                try sink(PlaintextSegments(firstSegment: first, count: good, base: UnsafeRawPointer(base), layout: layout,
                                           lastPlaintextCount: lastCipher - lastHeader - SegmentLayout.tagSize))
            } catch {
                failed = true
                throw error
            }
        }
        if let failure {
            failed = true
            // Wipe everything the failed batch held, verified or not, before reporting.
            SecureBytes.wipe(buffer)
            throw failure.error
        }
    }
}
