import CofferCrypto
import CofferSQL
import Foundation
import Synchronization

/// The access-log subsystem of a vault: the log file (``AuditLog``), its group committer
/// (``AuditAppender``) and whether accesses are recorded at all (off only in the benchmark's
/// unaudited twin). The access gate records through it; the public audit calls query it.
package final class AccessLog: Sendable {
    /// `audit.sqlite`: records, leaves, the Merkle frontier, checkpoints.
    package let log: AuditLog
    /// Group commit of new records.
    let appender: AuditAppender
    /// False only for the benchmark's unaudited twin, which measures what the log costs.
    let auditing: Bool

    /// Where small puts write their records, in their own transaction (embedded engine only).
    let outbox: AuditOutbox?
    /// True while a drain is scheduled (``drainSoon()``).
    private let drainScheduled = Mutex(false)

    init(log: AuditLog, auditing: Bool, outbox: AuditOutbox? = nil) {
        self.log = log
        self.outbox = outbox
        self.appender = AuditAppender(log: log, outbox: outbox)
        self.auditing = auditing
    }

    /// Where an access that writes its own transaction puts its record, when it may:
    /// `.inTransaction(outbox)` while the log is writable and its last batch was written,
    /// `.nothing` for the benchmark's unaudited twin, nil otherwise (the access then takes the
    /// ordinary path, which records first and fails closed when the log cannot be written).
    func recordingInTransaction() -> InTransactionRecording? {
        guard auditing else { return .nothing }
        guard let outbox, !appender.isFailing, !appender.isStopped, (try? log.checkWritable()) != nil else { return nil }
        return .inTransaction(outbox)
    }

    /// How an access that writes its own transaction is recorded.
    enum InTransactionRecording {
        /// In the access's transaction, in `content.sqlite`'s outbox.
        case inTransaction(AuditOutbox)
        /// Not at all (the unaudited twin).
        case nothing
    }

    /// The record of an allowed access as its own transaction writes it: the client already in
    /// the form the log keeps.
    /// - Throws: `CofferError` `invalidArgument` for a negative byte count.
    func allowedEntry(_ context: AccessContext, _ request: AccessRequest, role: Role) throws -> AuditEntry {
        var entry = try Self.entry(context, request, decision: .success(role))
        entry.client = try log.pseudonymousClient(entry.client)
        return entry
    }

    /// At open, before any access: makes the outbox's next id follow what the log has taken
    /// (a `content.sqlite` older than `audit.sqlite`), then has the committer move what a
    /// process left waiting there (it died before its drain) into the log.
    func takeOutbox() throws {
        guard let outbox else { return }
        let drained = try log.pool.read { db in
            try db.fetchOne(Int64.self, sql: "SELECT outbox_drained FROM log_state WHERE id = 1") ?? 0
        }
        try outbox.continueAfter(drained: drained)
        appender.nudge()
    }

    /// Moves what waits in the outbox into the log now, on the calling thread (which blocks:
    /// never call it from the cooperative pool). The committer's drains and this one take the
    /// log's write lock in turn.
    /// - Throws: `CofferError` `auditUnavailable`, `tamperDetected`.
    package func drainNow() throws {
        guard let outbox else { return }
        if let drained = try log.commit([], draining: outbox).drained { outbox.forget(through: drained) }
    }

    /// What is wrong with the records waiting in the outbox (rows deleted before the log took
    /// them), or nil.
    func outboxProblem() -> String? {
        guard let outbox else { return nil }
        do {
            let drained = try log.pool.read { db in try db.fetchOne(Int64.self, sql: "SELECT outbox_drained FROM log_state WHERE id = 1") ?? 0 }
            _ = try outbox.waiting(after: drained)
            return nil
        } catch {
            return (error as? CofferError)?.message ?? "the outbox cannot be read: \(error)"
        }
    }

    /// Asks the committer to move what waits in the outbox into the log within
    /// ``drainDelay``: the records of the puts of those milliseconds share one transaction and
    /// one sync of `audit.sqlite` (a query, a verification, any other record and closing the
    /// vault take them at once).
    func drainSoon() {
        guard outbox != nil, drainScheduled.withLock({ scheduled in defer { scheduled = true }; return !scheduled }) else { return }
        let appender = self.appender
        Task { [weak self] in
            try? await Task.sleep(for: Self.drainDelay)
            self?.drainScheduled.withLock { $0 = false }
            appender.nudge()
        }
    }

    /// How long a small put's record may wait in the outbox before the committer takes it.
    static let drainDelay = Duration.milliseconds(5)

    deinit { appender.stop() }

    /// Refuses every access once the vault is closed: nothing could be recorded (the files'
    /// connections are closed too, which would otherwise surface as a `storage` error).
    func checkOpen() throws {
        guard !appender.isStopped else { throw CofferError(.auditUnavailable, "the vault is closed; nothing can be recorded") }
    }

    /// Records a decision; throws the refusal after recording it. Only the access gate
    /// (``Vault/guarded(_:_:resolve:refine:_:)``) calls it.
    @discardableResult
    func record(_ context: AccessContext, _ request: AccessRequest, decision: Result<Role, CofferError>) async throws -> AuditRecord? {
        let entry = try Self.entry(context, request, decision: decision)
        let record = auditing ? try await appender.append(entry) : nil
        if case .failure(let refusal) = decision { throw refusal }
        return record
    }

    /// ``record(_:_:decision:)`` for a caller on a thread of its own (the blocking pool): queues
    /// the record and returns at once; `finish` gets the record once it is durable (nil when
    /// nothing is recorded) or the error that kept it from being written, from the committer's
    /// thread. The refusal is not thrown: the caller has the decision.
    /// - Throws: `CofferError` `invalidArgument` for a negative byte count (nothing queued).
    func record(_ context: AccessContext, _ request: AccessRequest, decision: Result<Role, CofferError>,
                finish: @escaping @Sendable (Result<AuditRecord?, any Error>) -> Void) throws {
        let entry = try Self.entry(context, request, decision: decision)
        guard auditing else { return finish(.success(nil)) }
        appender.submit(entry) { finish($0.map { $0 }) }
    }

    /// The record of a decision.
    /// - Throws: `CofferError` `invalidArgument` for a negative byte count.
    static func entry(_ context: AccessContext, _ request: AccessRequest, decision: Result<Role, CofferError>) throws -> AuditEntry {
        var entry = AuditEntry(context, request, outcome: .allowed)
        switch decision {
        case .success(let role):
            // What allowed it: the role, or for personal data opened through a grant, the grant
            // (its id is in the record), never a role that alone did not allow it.
            entry.role = request.dataClass == .pii && request.grantID != nil ? nil : role.code
            entry.reason = request.reason
        case .failure(let refusal):
            entry.outcome = .denied
            entry.errorCode = refusal.code.description
            entry.reason = refusal.message
            entry.bytes = nil
        }
        // A byte count is a size: a negative one would be a bug, never something that happened.
        if let bytes = entry.bytes, bytes < 0 {
            throw CofferError(.invalidArgument, "refusing to record a negative byte count (\(bytes)); nothing was done")
        }
        return entry
    }

    /// Records that an allowed access then failed. Written later if the log cannot take it now.
    func recordFailure(_ context: AccessContext, _ request: AccessRequest, _ error: any Error) async {
        guard auditing else { return }
        let code = (error as? CofferError)?.code.description ?? "internal"
        var entry = AuditEntry(context, request, outcome: .error)
        entry.errorCode = code
        entry.bytes = nil
        // When the log cannot take it now (a full disk), it is written ahead of the next record.
        await appender.appendOrDefer(entry)
    }

    /// Runs log work (queries, verification over millions of records) on the blocking pool,
    /// once the records waiting in the outbox are in the log (a query sees every access made
    /// before it).
    func run<T: Sendable>(_ body: @escaping @Sendable (AuditLog) throws -> T) async throws -> T {
        // Best effort: a log that cannot be written can still be read and verified.
        if outbox != nil, !appender.isStopped { try? await appender.drain() }
        let log = self.log
        return try await BlockingPool.shared.run { try body(log) }
    }

    /// The boundary a prune before `time` sets: never earlier than the one already recorded, so
    /// an earlier or repeated prune keeps the previous one.
    func pruneBoundary(before time: Int64) async throws -> Int64 {
        let previous = try await log.pool.read { db in try AuditLog.prunedBefore(db) }
        return max(try await run { try $0.pruneBoundary(before: time) }, previous)
    }

    /// Stops taking records, waiting for those in flight (the first step of closing a vault).
    func stopRecording() {
        appender.stopAndWait()
    }

    /// Closes `audit.sqlite` (the last step of closing a vault).
    func closeFile() throws {
        log.pool.close()
    }
}

extension AuditEntry {
    /// The entry for `request` made under `context`, with `outcome` (role, error and reason unset).
    init(_ context: AccessContext, _ request: AccessRequest, outcome: AuditRecord.Outcome) {
        self.init(time: nowMilliseconds(), actor: context.actor, role: nil, tenant: request.tenant, subject: request.subject,
                  objectID: request.objectID, objectVersion: request.objectVersion, objectKind: request.objectKind,
                  action: request.action, dataClass: request.dataClass, purpose: context.purpose,
                  justification: context.justification, outcome: outcome, errorCode: nil, bytes: request.bytes,
                  requestID: context.requestID, client: context.client, grantID: request.grantID, reason: nil)
    }
}
