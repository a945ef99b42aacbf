import Foundation

/// Tink-compatible streaming AEAD (AES-GCM-HKDF, HKDF-SHA256, 32-byte derived key).
///
/// Byte-for-byte the format of Tink's `AesGcmHkdfStreamingKey`: anything Coffer seals, any Tink
/// implementation opens with the same key, AAD and segment size, and the other way round.
/// See `docs/format.md`.
public struct StreamingAEAD: Sendable {
    /// Segment sizes and offsets.
    public let layout: SegmentLayout
    let key: SecureBytes

    /// Creates a streaming AEAD.
    /// - Parameters:
    ///   - key: The 32-byte stream key (Tink's key value).
    ///   - segmentSize: Ciphertext segment size, 4 KiB to 64 MiB (default 1 MiB).
    /// - Throws: ``CofferError`` `invalidKey` or `invalidArgument`.
    public init(key: SecureBytes, segmentSize: Int = SegmentLayout.defaultSegmentSize) throws {
        guard key.count == GCMContext.keySize else {
            throw CofferError(.invalidKey, "streaming key must be 32 bytes, got \(key.count)")
        }
        self.key = key
        self.layout = try SegmentLayout(segmentSize: segmentSize)
    }

    /// The number of threads the parallel paths use by default: one per active core, counted
    /// once (Foundation reads the cgroup files at every `activeProcessorCount`, eight system
    /// calls that a 4 KiB put paid each time).
    public static let defaultWorkers: Int = min(maximumWorkers, max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// The most threads a parallel path accepts; more are refused with `invalidArgument`
    /// (each worker owns a cipher context and batch slots, so the count must stay bounded).
    public static let maximumWorkers = 256

    /// Starts a stream with a fresh random header.
    package func newSession(aad: some ContiguousBytes) throws -> StreamSession {
        try StreamSession.random(key: key, aad: aad)
    }

    /// Derives the session of an existing stream from its header.
    package func session(header: [UInt8], aad: some ContiguousBytes) throws -> StreamSession {
        try StreamSession(key: key, header: header, aad: aad)
    }
}
