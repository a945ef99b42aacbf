import CofferCrypto
import CofferSQL
import Foundation

/// Group commit for the access log: callers hand over a record and suspend; one committer
/// thread writes everything that queued up meanwhile in a single transaction and fsync, then
/// resumes every caller. Under load many records share one fsync; alone, a record costs one.
package final class AuditAppender: Sendable {
    private let thread: GroupCommitThread<Pending>
    private let state: DeferredEntries

    private typealias Pending = (entry: AuditEntry, finish: @Sendable (Result<AuditRecord, any Error>) -> Void)

    init(log: AuditLog) {
        let state = DeferredEntries()
        self.state = state
        thread = GroupCommitThread(name: "coffer.audit-commit") { batch in Self.commit(batch, to: log, deferred: state) }
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
        guard thread.submit((entry, finish)) else {
            finish(.failure(CofferError(.auditUnavailable, "the vault is closed; nothing can be recorded")))
            return
        }
    }

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

    /// Stops the committer and waits until it has written what was queued and exited.
    func stopAndWait() {
        thread.stop(waiting: true)
    }

    /// Writes the deferred entries and then `batch` in one transaction, and resumes every caller.
    private static func commit(_ batch: [Pending], to log: AuditLog, deferred: DeferredEntries) {
        let late = deferred.takeAll()
        do {
            let records = try log.commit(late + batch.map(\.entry))
            CrashPoint.hit("audit.after-commit")
            for (item, record) in zip(batch, records.dropFirst(late.count)) { item.finish(.success(record)) }
        } catch {
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
