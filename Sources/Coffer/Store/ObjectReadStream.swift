import CofferCrypto
import Foundation

/// The plaintext of one object version, as an `AsyncSequence` of chunks.
///
/// Nothing is read until the consumer asks: each call to `next()` reads one batch of segments
/// (about 1 MiB of plaintext, or the whole object when it is smaller) in one short read
/// transaction against the version pinned when the stream was made, authenticates and decrypts
/// it on Coffer's blocking pool, and returns it. A slow consumer therefore holds no database
/// snapshot, no reader connection and no thread between chunks, and memory per stream is one
/// batch. Only authenticated bytes are returned; a stored segment that fails its check ends the
/// stream with `tamper-detected`, and a version deleted while it was being read ends it with
/// `not-found`.
///
/// The access was decided and recorded when the stream was made (``Vault/stream(tenant:objectID:version:range:context:)``);
/// a failure while streaming is recorded as an error outcome.
public struct ObjectReadStream: AsyncSequence, Sendable {
    /// Chunks of plaintext, in order.
    public typealias Element = [UInt8]

    /// The version being read.
    public let info: ObjectVersionInfo
    /// The plaintext byte offsets the stream yields, `lowerBound..<upperBound`.
    public let range: Range<Int64>

    let plan: ReadPlan

    /// Makes an iterator; each iterator reads the range once, from the start.
    public func makeAsyncIterator() -> Iterator { Iterator(plan: plan) }

    /// Reads chunks of an ``ObjectReadStream``. Use it from one task at a time.
    ///
    /// A version of more than one batch is read ahead: while the consumer handles one chunk,
    /// the next ``ReadPlan/readAhead`` batches are read and decrypted on the blocking pool, each
    /// with a cipher of its own, so a large read uses every core and memory stays a few batches.
    public final class Iterator: AsyncIteratorProtocol {
        private let plan: ReadPlan
        /// One cipher per batch in flight: batch k uses slot k % slots.count, and is scheduled
        /// only once batch k - slots.count has been taken.
        private let ciphers: [CipherSlot]
        private var nextSegment: Int
        private var scheduled = 0
        private var ahead: [Task<[UInt8], any Error>] = []
        private var finished = false

        init(plan: ReadPlan) {
            self.plan = plan
            ciphers = (0..<(plan.prefetched == nil ? plan.readAhead : 1)).map { _ in CipherSlot() }
            nextSegment = plan.segments.lowerBound
        }

        deinit {
            for task in ahead { task.cancel() }
        }

        /// The next chunk, or nil at the end.
        /// - Throws: `CofferError` `tamperDetected`, `notFound` (deleted while read), `storage`.
        public func next() async throws -> [UInt8]? {
            while !finished {
                let chunk: [UInt8]
                do {
                    if let prefetched = try readPrefetched() {
                        chunk = prefetched
                    } else {
                        schedule()
                        guard !ahead.isEmpty else {
                            finished = true
                            return nil
                        }
                        chunk = try await ahead.removeFirst().value
                        schedule()
                    }
                } catch {
                    finished = true
                    let reported = plan.reported(error)
                    await plan.onFailure(reported)
                    throw reported
                }
                if !chunk.isEmpty { return chunk }
            }
            return nil
        }

        /// The next batch of a small version whose segments came with its pin: a few
        /// microseconds of decryption here, no trip to the pool. Nil for any other version, or
        /// when the prefetched segments are used up (then `ahead` is empty and the stream ends).
        private func readPrefetched() throws -> [UInt8]? {
            guard plan.prefetched != nil, let batch = takeBatch() else { return nil }
            return try plan.read(batch, cipher: ciphers[0])
        }

        /// Starts reading batches on the pool until `ciphers.count` are in flight or none are left.
        private func schedule() {
            while ahead.count < ciphers.count, let batch = takeBatch() {
                let (plan, cipher) = (self.plan, ciphers[scheduled % ciphers.count])
                scheduled += 1
                ahead.append(Task { try await BlockingPool.shared.run { try plan.read(batch, cipher: cipher) } })
            }
        }

        /// The next batch of segments to read, or nil after the last.
        private func takeBatch() -> ClosedRange<Int>? {
            guard nextSegment <= plan.segments.upperBound else { return nil }
            let batch = nextSegment...Swift.min(plan.segments.upperBound, nextSegment + plan.batchSegments - 1)
            nextSegment = batch.upperBound + 1
            return batch
        }
    }
}

/// Holds a segment cipher between the batches that use it. Those batches run one at a time (see
/// ``ObjectReadStream/Iterator``), so a cipher is never used by two threads at once.
final class CipherSlot: @unchecked Sendable {
    var cipher: SegmentCipher?
}

/// Everything a stream needs to read its batches.
struct ReadPlan: Sendable {
    let store: any SegmentStore
    let versionRow: Int64
    let objectID: ObjectID
    let version: Int
    let aead: StreamingAEAD
    let aad: [UInt8]
    /// Segments of the stored version.
    let segmentCount: Int
    /// Stored ciphertext size (decides the size of the final segment).
    let ciphertextSize: Int64
    /// Plaintext offsets to yield.
    let range: Range<Int64>
    /// The segments holding them (the final segment too when the range reaches the end, so a
    /// stream cut short cannot pass for a shorter one).
    let segments: ClosedRange<Int>
    /// Segments per batch.
    let batchSegments: Int
    /// A small version's segments, read with its pin (then nothing else is read).
    let prefetched: PrefetchedSegments?
    /// Records a failure after the access was allowed.
    let onFailure: @Sendable (any Error) async -> Void

    /// Plaintext wanted from one batch.
    static let batchBytes = 1 << 20
    /// Batches read at once by a stream of more than one: one per thread of the blocking pool
    /// when the store reads from local files, one at a time from a store that reads ahead on its
    /// own (``SegmentStore/readsAhead``).
    var readAhead: Int { store.readsAhead ? 1 : StreamingAEAD.defaultWorkers }

    init(store: any SegmentStore, versionRow: Int64, objectID: ObjectID, info: ObjectVersionInfo, aead: StreamingAEAD, aad: [UInt8],
         range: Range<Int64>, prefetched: PrefetchedSegments? = nil, onFailure: @escaping @Sendable (any Error) async -> Void) throws {
        let layout = aead.layout
        self.store = store
        self.versionRow = versionRow
        self.objectID = objectID
        self.version = info.version
        self.aead = aead
        self.aad = aad
        ciphertextSize = info.storedSize
        segmentCount = layout.segmentCount(ciphertextSize: info.storedSize)
        guard (try? layout.plaintextSize(ciphertextSize: info.storedSize)) == info.size else {
            throw CofferError(.tamperDetected, "object \(objectID) version \(info.version): its recorded sizes disagree; the content file was changed outside Coffer")
        }
        self.range = range
        let reachesEnd = range.upperBound >= info.size
        if range.isEmpty {
            let only = reachesEnd ? segmentCount - 1 : layout.segment(containingPlaintextOffset: range.lowerBound)
            segments = only...only
        } else {
            let first = layout.segment(containingPlaintextOffset: range.lowerBound)
            let last = reachesEnd ? segmentCount - 1 : layout.segment(containingPlaintextOffset: range.upperBound - 1)
            segments = first...last
        }
        batchSegments = max(1, Self.batchBytes / layout.plaintextCapacity)
        self.prefetched = prefetched
        self.onFailure = onFailure
    }

    /// The error a caller sees: a failed check of stored bytes is tampering.
    func reported(_ error: any Error) -> any Error {
        guard let error = error as? CofferError, [.authenticationFailed, .truncated, .invalidFormat].contains(error.code) else { return error }
        return CofferError(.tamperDetected,
                           "object \(objectID) version \(version): stored ciphertext failed its check (\(error.message)); the content file was changed outside Coffer")
    }

    /// Stored size of segment `index` (the header included for segment 0).
    private func storedSize(ofSegment index: Int) -> Int {
        let size = aead.layout.segmentSize
        return index == segmentCount - 1 ? Int(ciphertextSize - Int64(index) * Int64(size)) : size
    }

    /// Reads, checks and decrypts the segments `batch`, returning the plaintext inside `range`.
    /// Runs on a blocking-pool thread.
    func read(_ batch: ClosedRange<Int>, cipher slot: CipherSlot) throws -> [UInt8] {
        let layout = aead.layout
        if slot.cipher == nil, batch.lowerBound > 0 { slot.cipher = try makeCipher(header: try header()) }
        let start = max(range.lowerBound, layout.plaintextOffset(ofSegment: batch.lowerBound))
        let batchEnd = layout.plaintextOffset(ofSegment: batch.upperBound) + Int64(layout.plaintextCapacity(ofSegment: batch.upperBound))
        let end = min(range.upperBound, batchEnd)
        let count = Int(max(0, end - start))
        var expected = batch.lowerBound
        var scratch: UnsafeMutableRawBufferPointer?
        defer {
            if let scratch {
                SecureBytes.wipe(scratch)
                scratch.deallocate()
            }
        }
        let output = try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = UnsafeMutableRawBufferPointer(buffer)
            try withSegments(in: batch, planned: segments) { index, stored in
                guard index == expected else { throw CofferError(.truncated, "segment \(expected) is missing") }
                guard stored.count == storedSize(ofSegment: index) else {
                    throw CofferError(.truncated, "segment \(index) is \(stored.count) bytes where the stream size says \(storedSize(ofSegment: index))")
                }
                var body = stored
                if index == 0 {
                    slot.cipher = try makeCipher(header: Array(stored.prefix(SegmentLayout.headerSize)))
                    body = UnsafeRawBufferPointer(rebasing: stored[SegmentLayout.headerSize...])
                }
                guard let cipher = slot.cipher, let source = body.baseAddress else { throw CofferError(.truncated, "segment \(index) is empty") }
                let plaintext = body.count - SegmentLayout.tagSize
                let segmentStart = layout.plaintextOffset(ofSegment: index)
                let from = Int(max(start, segmentStart) - segmentStart)
                let to = Int(min(end, segmentStart + Int64(plaintext)) - segmentStart)
                let isLast = index == segmentCount - 1
                if from == 0 && to == plaintext, plaintext > 0 {
                    // The whole segment is wanted: decrypt straight into the chunk.
                    try cipher.open(segment: index, isLast: isLast, ciphertext: source, count: body.count,
                                    output: out.baseAddress! + initialized)
                } else {
                    // The range starts or ends inside it (or it holds only the final tag).
                    let buffer = scratch ?? .allocate(byteCount: layout.segmentSize, alignment: 64)
                    scratch = buffer
                    try cipher.open(segment: index, isLast: isLast, ciphertext: source, count: body.count, output: buffer.baseAddress!)
                    if to > from {
                        (out.baseAddress! + initialized).copyMemory(from: buffer.baseAddress! + from, byteCount: to - from)
                    }
                }
                initialized += max(0, to - from)
                expected += 1
            }
            guard expected == batch.upperBound + 1 else {
                // Prefetched segments were read in the pin's transaction: none went missing since.
                if prefetched == nil, try !store.isCommitted(version: versionRow) {
                    throw CofferError(.notFound, "object \(objectID) version \(version) was deleted while it was being read")
                }
                throw CofferError(.truncated, "segment \(expected) is missing")
            }
        }
        return output
    }

    /// The stream header, from segment 0 (for a stream whose first batch starts later).
    private func header() throws -> [UInt8] {
        var header: [UInt8]?
        try withSegments(in: 0...0, planned: 0...0) { _, stored in header = Array(stored.prefix(SegmentLayout.headerSize)) }
        guard let header, header.count == SegmentLayout.headerSize else {
            if prefetched == nil, try !store.isCommitted(version: versionRow) {
                throw CofferError(.notFound, "object \(objectID) version \(version) was deleted while it was being read")
            }
            throw CofferError(.truncated, "segment 0 is missing or shorter than the header")
        }
        return header
    }

    /// The stored segments of `batch`, from the prefetched ones or from the store.
    private func withSegments(in batch: ClosedRange<Int>, planned: ClosedRange<Int>,
                              _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        if let prefetched {
            try prefetched.withSegments(in: batch, body)
        } else {
            try store.withSegments(version: versionRow, in: batch, planned: planned, body)
        }
    }

    private func makeCipher(header: [UInt8]) throws -> SegmentCipher {
        try aead.session(header: header, aad: aad).makeCipher(encrypting: false)
    }
}
