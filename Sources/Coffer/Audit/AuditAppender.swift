import CofferCrypto
import Foundation

/// Group commit for the access log: callers hand over a record and suspend; one committer
/// thread writes everything that queued up meanwhile in a single transaction and fsync, then
/// resumes every caller. Under load many records share one fsync; alone, a record costs one.
package final class AuditAppender: @unchecked Sendable {
    // @unchecked: `pending` and `stopping` are touched only with `condition` locked.
    private let log: AuditLog
    private let condition = NSCondition()
    private var pending: [(entry: AuditEntry, continuation: CheckedContinuation<AuditRecord, any Error>)] = []
    /// Error outcomes that could not be written when they happened (a full disk): written ahead
    /// of the next batch, so the log never keeps an allowed access without its failure.
    private var deferred: [AuditEntry] = []
    private var stopping = false
    private var finished = false

    init(log: AuditLog) {
        self.log = log
        let thread = Thread { [self] in run() }
        thread.name = "coffer.audit-commit"
        thread.start()
    }

    /// Appends `entry`, returning once it is durable.
    /// - Throws: `CofferError` `auditUnavailable` when the log cannot be written.
    package func append(_ entry: AuditEntry) async throws -> AuditRecord {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            guard !stopping else {
                continuation.resume(throwing: CofferError(.auditUnavailable, "the vault is closed; nothing can be recorded"))
                return
            }
            pending.append((entry, continuation))
            condition.signal()
        }
    }

    /// Appends `entry` (an error outcome); if the log cannot take it now, keeps it and writes it
    /// ahead of the next record that can be written.
    func appendOrDefer(_ entry: AuditEntry) async {
        do {
            _ = try await append(entry)
        } catch {
            keepForLater(entry)
        }
    }

    private func keepForLater(_ entry: AuditEntry) {
        condition.lock()
        deferred.append(entry)
        condition.unlock()
    }

    /// How many error outcomes wait to be written.
    var deferredCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return deferred.count
    }

    /// True once ``stop()`` or ``stopAndWait()`` was called (the vault is closed).
    var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// Stops the committer after it has written what is queued.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the committer and waits until it has written what was queued and exited.
    func stopAndWait() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            if pending.isEmpty && stopping {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = pending
            let late = deferred
            pending.removeAll(keepingCapacity: true)
            deferred.removeAll()
            condition.unlock()
            do {
                let records = try log.commit(late + batch.map(\.entry))
                CrashPoint.hit("audit.after-commit")
                for (item, record) in zip(batch, records.dropFirst(late.count)) { item.continuation.resume(returning: record) }
            } catch {
                condition.lock()
                deferred.insert(contentsOf: late, at: 0)
                condition.unlock()
                for item in batch { item.continuation.resume(throwing: error) }
            }
        }
    }
}
