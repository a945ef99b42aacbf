import CofferCrypto
import CofferSQL
import Foundation
import Synchronization

/// Group commit for the access log: callers hand over a record and suspend; one committer
/// thread writes everything that queued up meanwhile in a single transaction and fsync, then
/// resumes every caller. Under load many records share one fsync; alone, a record costs one.
package final class AuditAppender: Sendable {
    private let thread: GroupCommitThread<Pending>
    private let state: DeferredEntries
    /// True while the last batch could not be written: records then go nowhere but the log.
    private let failing = FailureFlag()

    /// A record to append (nil: only drain the outbox) and what to tell its caller.
    private typealias Pending = (entry: AuditEntry?, finish: @Sendable (Result<AuditRecord?, any Error>) -> Void)

    /// A committer for `log`; with `outbox`, every batch first takes the records waiting there.
    init(log: AuditLog, outbox: AuditOutbox? = nil) {
        let state = DeferredEntries()
        self.state = state
        let failing = self.failing
        thread = GroupCommitThread(name: "coffer.audit-commit") { batch in
            Self.commit(batch, to: log, outbox: outbox, deferred: state, failing: failing)
        }
    }

    /// Appends `entry`, returning once it is durable.
    /// - Throws: `CofferError` `auditUnavailable` when the log cannot be written.
    package func append(_ entry: AuditEntry) async throws -> AuditRecord {
        try await withCheckedThrowingContinuation { continuation in
            submit(entry) { continuation.resume(with: $0) }
        }
    }

    /// Queues `entry` and returns at once; `finish` gets the record once it is durable, or the
    /// error that kept it from being written, on the committer's thread.
    func submit(_ entry: AuditEntry, finish: @escaping @Sendable (Result<AuditRecord, any Error>) -> Void) {
        submit(Pending(entry, { result in finish(result.flatMap { $0.map { .success($0) } ?? .failure(CofferError(.auditUnavailable, "the log returned no record for an appended entry")) }) }))
    }

    /// Returns once every record waiting in the outbox when it was called is in the log.
    /// - Throws: `CofferError` `auditUnavailable` when the log cannot be written.
    func drain() async throws {
        _ = try await withCheckedThrowingContinuation { continuation in
            submit(Pending(nil, { continuation.resume(with: $0) }))
        }
    }

    /// Asks the committer to take what waits in the outbox soon, without waiting for it.
    func nudge() {
        guard thread.submit(Pending(nil, { _ in })) else { return }
    }

    private func submit(_ pending: Pending) {
        guard thread.submit(pending) else {
            pending.finish(.failure(CofferError(.auditUnavailable, "the vault is closed; nothing can be recorded")))
            return
        }
    }

    /// True while the last batch failed (the log is full, read-only or gone).
    var isFailing: Bool { failing.isSet }

    /// Appends `entry` (an error outcome); if the log cannot take it now, keeps it and writes it
    /// ahead of the next record that can be written.
    func appendOrDefer(_ entry: AuditEntry) async {
        do {
            _ = try await append(entry)
        } catch {
            state.keep([entry])
        }
    }

    /// How many error outcomes wait to be written.
    var deferredCount: Int { state.count }

    /// True once ``stop()`` or ``stopAndWait()`` was called (the vault is closed).
    var isStopped: Bool { thread.isStopped }

    /// Stops the committer after it has written what is queued.
    func stop() {
        thread.stop(waiting: false)
    }

    /// Stops the committer and waits until it has written what was queued (and what waited in
    /// the outbox) and exited.
    func stopAndWait() {
        nudge()
        thread.stop(waiting: true)
    }

    /// Writes the outbox's records, the deferred entries and then `batch` in one transaction,
    /// and resumes every caller.
    private static func commit(_ batch: [Pending], to log: AuditLog, outbox: AuditOutbox?, deferred: DeferredEntries, failing: FailureFlag) {
        let late = deferred.takeAll()
        do {
            // After a failed batch every batch looks again: a deleted record keeps the log stopped.
            let drain = outbox.flatMap { $0.shouldDrain(asked: batch.contains { $0.entry == nil } || failing.isSet) ? $0 : nil }
            let (records, drained) = try log.commit(late + batch.compactMap(\.entry), draining: drain)
            CrashPoint.hit("audit.after-commit")
            failing.isSet = false
            if let drained { outbox?.forget(through: drained) }
            var next = records.count - batch.count(where: { $0.entry != nil })
            for item in batch {
                guard item.entry != nil else { item.finish(.success(nil)); continue }
                item.finish(.success(records[next]))
                next += 1
            }
        } catch {
            failing.isSet = true
            deferred.keep(late, first: true)
            for item in batch { item.finish(.failure(error)) }
        }
    }
}

/// Error outcomes that could not be written when they happened (a full disk): written ahead of
/// the next batch, so the log never keeps an allowed access without its failure.
private final class DeferredEntries: @unchecked Sendable {
    // @unchecked: `entries` is touched only with `lock` held.
    private let lock = NSLock()
    private var entries: [AuditEntry] = []

    var count: Int { lock.withLock { entries.count } }

    /// Keeps `more`, ahead of what is kept when `first`.
    func keep(_ more: [AuditEntry], first: Bool = false) {
        lock.withLock { entries.insert(contentsOf: more, at: first ? 0 : entries.count) }
    }

    func takeAll() -> [AuditEntry] {
        lock.withLock {
            defer { entries.removeAll() }
            return entries
        }
    }
}

/// Whether the committer's last batch failed, read by the threads that decide how to record.
private final class FailureFlag: Sendable {
    private let value = Mutex(false)

    var isSet: Bool {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
