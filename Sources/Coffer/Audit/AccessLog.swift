import CofferCrypto
import CofferSQL
import Foundation

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

    init(log: AuditLog, auditing: Bool) {
        self.log = log
        self.appender = AuditAppender(log: log)
        self.auditing = auditing
    }

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
    private static func entry(_ context: AccessContext, _ request: AccessRequest, decision: Result<Role, CofferError>) throws -> AuditEntry {
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

    /// Runs log work (queries, verification over millions of records) on the blocking pool.
    func run<T: Sendable>(_ body: @escaping @Sendable (AuditLog) throws -> T) async throws -> T {
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
