import CofferCrypto
import Foundation
import GRDB

/// What an access is about, for policy and the log.
struct AccessRequest: Sendable {
    var action: AccessAction
    var dataClass: DataClass
    var tenant: TenantID?
    var subject: SubjectID?
    /// The object, or the principal concerned for administration.
    var objectID: String?
    var objectVersion: Int?
    var objectKind: String?
    var bytes: Int64?
    var grantID: GrantID?
    /// What an allowed access's record says beside its fields (a refusal's reason is its message).
    var reason: String?
}

extension Vault {
    /// The policy decision alone (nothing recorded yet).
    func decide(_ context: AccessContext, _ request: AccessRequest) throws -> Result<Role, CofferError> {
        try checkNotClosed()
        let principal = try principal(id: context.actor)
        var decision = Policy.decide(principal: principal, action: request.action, dataClass: request.dataClass,
                                     tenant: request.tenant, purpose: context.purpose)
        if case .success = decision, request.dataClass == .pii, context.justification == nil {
            decision = .failure(CofferError(.purposeMissing, "access to personal data needs a justification (--justification TEXT)"))
        }
        return decision
    }

    /// Refuses every access once the vault is closed: nothing could be recorded (the files'
    /// connections are closed too, which would otherwise surface as a `storage` error).
    func checkNotClosed() throws {
        guard !appender.isStopped else { throw CofferError(.auditUnavailable, "the vault is closed; nothing can be recorded") }
    }

    /// Records a decision; throws the refusal after recording it. Only ``guarded(_:_:resolve:refine:_:)``
    /// calls it.
    @discardableResult
    func record(_ context: AccessContext, _ request: AccessRequest, decision: Result<Role, CofferError>) async throws -> AuditRecord? {
        var entry = AuditEntry(context, request, outcome: .allowed)
        switch decision {
        case .success(let role):
            entry.role = role.code
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
        let record = auditing ? try await appender.append(entry) : nil
        if case .failure(let refusal) = decision { throw refusal }
        return record
    }

    /// Records that an allowed access then failed (``guarded(_:_:resolve:refine:_:)``, and the
    /// streams and writers it hands out, whose failures come later). Written later if the log
    /// cannot take it now.
    func recordFailure(_ context: AccessContext, _ request: AccessRequest, _ error: any Error) async {
        guard auditing else { return }
        let code = (error as? CofferError)?.code.description ?? "internal"
        var entry = AuditEntry(context, request, outcome: .error)
        entry.errorCode = code
        entry.bytes = nil
        // When the log cannot take it now (a full disk), it is written ahead of the next record.
        await appender.appendOrDefer(entry)
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
