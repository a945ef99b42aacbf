import CofferCrypto
import Foundation

/// One access on its way through ``Vault/guarded(_:_:resolve:refine:_:)``: what it is about and
/// how it was decided, which the refine step may change before anything is recorded.
struct PendingAccess: Sendable {
    /// What the access is about, as it will be recorded.
    var request: AccessRequest
    /// The decision: the role that allows it, or the refusal.
    var decision: Result<Role, CofferError>
    /// Undoes what the refine step reserved (a version number, say) if the decision then cannot
    /// be recorded.
    var undo: (@Sendable () -> Void)?

    /// True while nothing has refused it.
    var isAllowed: Bool {
        if case .success = decision { return true }
        return false
    }

    /// Undoes what the refine step reserved, when the access was allowed: its record could not
    /// be written, so nothing of it may remain.
    func abandon() {
        if isAllowed { undo?() }
    }

    /// Refuses the access (recorded as `denied` with this code and reason).
    mutating func refuse(_ refusal: CofferError) {
        decision = .failure(refusal)
    }
}

extension Vault {
    /// The one path every public operation takes, as swift-nio funnels every system call through
    /// one wrapper:
    ///
    /// 1. `resolve` (by default nothing) completes what the access is about, such as the tenant of a data
    ///    subject; if it fails the failure is recorded (outcome `error`) and thrown;
    /// 2. the policy decides, off the cooperative pool (it reads the principal);
    /// 3. `refine` (by default nothing) runs the operation's own checks, which may refuse it (a grant
    ///    beyond its limits, a restricted subject) or allow what policy refused (a PII grant),
    ///    and adds what the record should say (the version and byte count a read serves). If it
    ///    throws, the access is abandoned before it is recorded: that is for input found invalid
    ///    only once the target is known (a range past the end), never for a refusal;
    /// 4. the decision is recorded, durably; a refusal is thrown after it is recorded; if the
    ///    record cannot be written, `undo` runs and nothing happens;
    /// 5. `body` performs the access with the recorded request; if it fails, the failure is
    ///    recorded (outcome `error`, written later if the log is full) and thrown.
    @discardableResult
    func guarded<T>(_ context: AccessContext, _ request: AccessRequest,
                    resolve: (inout AccessRequest) async throws -> Void = { _ in },
                    refine: (inout PendingAccess) async throws -> Void = { _ in },
                    _ body: (AccessRequest) async throws -> T) async throws -> T {
        let asked = try await resolved(context, request, resolve)
        var access = try await BlockingPool.shared.run { PendingAccess(request: asked, decision: try self.decide(context, asked)) }
        try await refine(&access)
        do {
            try await accessLog.record(context, access.request, decision: access.decision)
        } catch {
            access.abandon()
            throw error
        }
        return try await performing(context, access.request) { try await body($0) }
    }

    /// ``guarded(_:_:resolve:refine:_:)`` for an access whose own checks are synchronous reads:
    /// `prepare` runs on the blocking pool in the same trip as the decision, right after it
    /// (a read pins its version there), and may refine the access as `refine` does; the record
    /// is then handed to the log's committer from that thread, and the caller resumes once it is
    /// durable. A small access thus wakes its caller once, not three times. What `prepare`
    /// returns reaches `body`.
    @discardableResult
    func guarded<T, Prepared: Sendable>(_ context: AccessContext, _ request: AccessRequest,
                                        resolve: (inout AccessRequest) async throws -> Void = { _ in },
                                        prepare: @escaping @Sendable (inout PendingAccess) throws -> Prepared,
                                        _ body: (AccessRequest, Prepared) async throws -> T) async throws -> T {
        let asked = try await resolved(context, request, resolve)
        let log = accessLog
        let (access, prepared, recording) = try await BlockingPool.shared.run(handingOff: {
            (finish: @escaping @Sendable (Result<(PendingAccess, Prepared, Result<AuditRecord?, any Error>), any Error>) -> Void) in
            var access = PendingAccess(request: asked, decision: try self.decide(context, asked))
            let prepared = try prepare(&access)
            let decided = access
            do {
                try log.record(context, decided.request, decision: decided.decision) { finish(.success((decided, prepared, $0))) }
            } catch {
                // Not queued (a bad byte count): nothing is recorded, so nothing happens.
                decided.abandon()
                throw error
            }
        })
        if case .failure(let error) = recording {
            access.abandon()
            throw error
        }
        if case .failure(let refusal) = access.decision { throw refusal }
        return try await performing(context, access.request) { try await body($0, prepared) }
    }

    /// ``guarded(_:_:resolve:refine:_:)`` for an access that is one transaction of its own and
    /// records its allowed decision inside it (a small put, ``AuditOutbox``): the decision and
    /// `prepare` run in one trip to the blocking pool; a refusal is recorded and thrown as
    /// usual; `body` gets the allowed decision's entry to write in its transaction (nil when
    /// nothing is recorded, the unaudited twin). A failure of `prepare` or `body` is recorded as
    /// an error outcome and thrown.
    /// - Returns: nil, having done nothing, when the log cannot take records that way now (the
    ///   caller then takes the ordinary path, which records first and fails closed).
    func guardedInTransaction<T, Prepared: Sendable>(_ context: AccessContext, _ request: AccessRequest,
                                                     prepare: @escaping @Sendable () throws -> Prepared,
                                                     _ body: (AccessRequest, Prepared, AuditEntry?) async throws -> T) async throws -> T? {
        guard let recording = accessLog.recordingInTransaction() else { return nil }
        let (decision, prepared) = try await BlockingPool.shared.run { () throws -> (Result<Role, CofferError>, Result<Prepared, any Error>?) in
            let decision = try self.decide(context, request)
            guard case .success = decision else { return (decision, nil) }
            return (decision, Result { try prepare() })
        }
        guard case .success(let role) = decision, let prepared else {
            try await accessLog.record(context, request, decision: decision)
            throw CofferError(.accessDenied, "the access was refused")  // not reached: a refusal is thrown once recorded
        }
        return try await performing(context, request) { recorded in
            let plan = try prepared.get()
            var entry: AuditEntry?
            if case .inTransaction = recording { entry = try accessLog.allowedEntry(context, recorded, role: role) }
            return try await body(recorded, plan, entry)
        }
    }

    /// The request `resolve` completed; a failure there is recorded (outcome `error`) and thrown.
    private func resolved(_ context: AccessContext, _ request: AccessRequest,
                          _ resolve: (inout AccessRequest) async throws -> Void) async throws -> AccessRequest {
        var request = request
        do { try await resolve(&request) } catch {
            await accessLog.recordFailure(context, request, error)
            throw error
        }
        return request
    }

    /// Runs `body` for the recorded access; a failure is recorded (outcome `error`) and thrown.
    private func performing<T>(_ context: AccessContext, _ recorded: AccessRequest,
                               _ body: (AccessRequest) async throws -> T) async throws -> T {
        do {
            return try await body(recorded)
        } catch {
            await accessLog.recordFailure(context, recorded, error)
            throw error
        }
    }

    /// The policy decision alone (nothing recorded yet).
    private func decide(_ context: AccessContext, _ request: AccessRequest) throws -> Result<Role, CofferError> {
        try accessLog.checkOpen()
        let principal = try administration.principal(id: context.actor)
        var decision = Policy.decide(principal: principal, action: request.action, dataClass: request.dataClass,
                                     tenant: request.tenant, purpose: context.purpose, vaultWide: request.vaultWide)
        if case .success = decision, request.dataClass == .pii, context.justification == nil {
            decision = .failure(CofferError(.purposeMissing, "access to personal data needs a justification (--justification TEXT)"))
        }
        return decision
    }

    /// Records that an access the gate allowed failed later: for the streams and writers it
    /// hands out, whose failures come after ``guarded(_:_:resolve:refine:_:)`` returned.
    func laterFailure(_ context: AccessContext, _ recorded: AccessRequest) -> @Sendable (any Error) async -> Void {
        { error in await self.accessLog.recordFailure(context, recorded, error) }
    }
}
