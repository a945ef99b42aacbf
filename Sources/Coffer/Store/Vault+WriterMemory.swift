import CofferCrypto

extension Vault {
    /// A whole writer batch when the budget allows (8 MiB: enough for every core to seal whole
    /// segments).
    static let writerBatchBytes = 8 << 20

    /// The default budget for all writers' batch buffers together.
    public static let defaultWriterMemory = 64 << 20

    /// Bytes all writers' batch buffers may hold together (``defaultWriterMemory`` unless
    /// changed with ``configureWriterMemory(_:)``).
    public var writerMemory: Int { writerBudget.capacity }

    /// Sets the budget for all writers' batch buffers together. A writer takes a whole batch
    /// (8 MiB, at most a quarter of the budget) when it can, less (down to two segments, with fewer workers) when the budget is
    /// short, and waits, before anything is decided or recorded, when not even that is left;
    /// a `put` of a small object takes only its own size. Readers need no budget: each stream
    /// decodes one batch of about 1 MiB at a time on the blocking pool, whose threads bound
    /// how many are decoded at once.
    /// - Parameter bytes: At least two segments of this vault, at most 16 GiB.
    /// - Throws: `CofferError` `invalidArgument` outside those bounds.
    public func configureWriterMemory(_ bytes: Int) throws {
        guard bytes >= 2 * segmentSize, bytes <= 16 << 30 else {
            throw CofferError(.invalidArgument, "writer memory must be at least two segments (\(2 * segmentSize) bytes) and at most 16 GiB, not \(bytes)")
        }
        writerBudget.setCapacity(bytes)
    }

    /// Reserves a writer's batch buffer: the ciphertext of `expectedBytes` when the caller knows
    /// it (capped at a whole batch), otherwise a whole batch; at least two segments when the
    /// budget is short.
    /// - Throws: `CancellationError` when the task is cancelled while it waits.
    func writerMemory(expectedBytes: Int?) async throws -> MemoryReservation {
        let batch = max(2 * segmentSize, Self.writerBatchBytes / segmentSize * segmentSize)
        let layout = try SegmentLayout(segmentSize: segmentSize)
        let wanted = expectedBytes.map { min(batch, Int(clamping: layout.ciphertextSize(plaintextSize: Int64($0)))) } ?? batch
        let minimum = min(wanted, 2 * segmentSize)
        // No writer takes more than a quarter of the budget, so one large stream never makes
        // the next writers wait.
        let preferred = min(wanted, max(minimum, writerBudget.capacity / 4))
        return try await writerBudget.reserve(minimum: minimum, preferred: preferred)
    }
}
