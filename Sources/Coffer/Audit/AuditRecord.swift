/// One decision about one access, as the access log keeps it. It holds ids, codes and sizes,
/// never content or PII values.
public struct AuditRecord: Sendable, Codable, Hashable {
    /// How the decision came out.
    public enum Outcome: String, Sendable, Codable, CaseIterable {
        /// Policy allowed the access and it went ahead.
        case allowed
        /// Policy refused it.
        case denied
        /// It was allowed but failed (the error code says why).
        case error
    }

    /// Position in the log, from 1; also the Merkle leaf index plus one.
    public let sequence: Int64
    /// When (Unix milliseconds).
    public let time: Int64
    /// Who.
    public let actor: PrincipalID
    /// The role that allowed it, when one did.
    public let role: String?
    /// The tenant concerned.
    public let tenant: TenantID?
    /// The data subject concerned (PII).
    public let subject: SubjectID?
    /// What the access was about beside the tenant and subject: an object id for content, the
    /// principal concerned for principal administration and grants.
    public let objectID: String?
    /// The object version concerned.
    public let objectVersion: Int?
    /// The object's kind.
    public let objectKind: String?
    /// What was done (``AccessAction`` code).
    public let action: String
    /// The kind of data (``DataClass`` code).
    public let dataClass: String
    /// Why (``Purpose`` code).
    public let purpose: String
    /// The caller's justification, for PII.
    public let justification: String?
    /// Allowed, denied or error.
    public let outcome: Outcome
    /// The error code for `denied` and `error`.
    public let errorCode: String?
    /// Bytes served or stored.
    public let bytes: Int64?
    /// The caller's request id.
    public let requestID: String?
    /// The caller's client.
    public let client: String?
    /// The grant that allowed a PII access.
    public let grantID: GrantID?
    /// Why a refusal was made (policy text, no data values).
    public let reason: String?

    /// The canonical bytes of the record: what its Merkle leaf hashes. A version tag, then every
    /// field in declaration order, each absent (0x00) or present (0x01, 4-byte big-endian length,
    /// UTF-8 text; numbers as decimal text).
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = Array("coffer-audit-record-v1".utf8)
        out.reserveCapacity(256)
        func field(_ value: String?) {
            guard let value else { out.append(0); return }
            let bytes = Array(value.utf8)
            out.append(1)
            let n = UInt32(bytes.count)
            out.append(contentsOf: [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)])
            out.append(contentsOf: bytes)
        }
        field(String(sequence)); field(String(time)); field(actor.rawValue); field(role); field(tenant?.rawValue); field(subject?.rawValue)
        field(objectID); field(objectVersion.map(String.init)); field(objectKind); field(action); field(dataClass)
        field(purpose); field(justification); field(outcome.rawValue); field(errorCode); field(bytes.map(String.init))
        field(requestID); field(client); field(grantID?.rawValue); field(reason)
        return out
    }
}

/// A record before the log gives it a sequence number. `package` so the benchmark target can
/// append made-up records.
package struct AuditEntry: Sendable {
    var time: Int64
    var actor: PrincipalID
    var role: String?
    var tenant: TenantID?
    var subject: SubjectID?
    var objectID: String?
    var objectVersion: Int?
    var objectKind: String?
    var action: AccessAction
    var dataClass: DataClass
    var purpose: Purpose
    var justification: String?
    var outcome: AuditRecord.Outcome
    var errorCode: String?
    var bytes: Int64?
    var requestID: String?
    var client: String?
    var grantID: GrantID?
    var reason: String?

    /// An entry with every field given (the memberwise initialiser, at `package` access).
    package init(time: Int64, actor: PrincipalID, role: String? = nil, tenant: TenantID? = nil, subject: SubjectID? = nil,
                 objectID: String? = nil, objectVersion: Int? = nil, objectKind: String? = nil, action: AccessAction,
                 dataClass: DataClass, purpose: Purpose, justification: String? = nil, outcome: AuditRecord.Outcome,
                 errorCode: String? = nil, bytes: Int64? = nil, requestID: String? = nil, client: String? = nil,
                 grantID: GrantID? = nil, reason: String? = nil) {
        self.time = time
        self.actor = actor
        self.role = role
        self.tenant = tenant
        self.subject = subject
        self.objectID = objectID
        self.objectVersion = objectVersion
        self.objectKind = objectKind
        self.action = action
        self.dataClass = dataClass
        self.purpose = purpose
        self.justification = justification
        self.outcome = outcome
        self.errorCode = errorCode
        self.bytes = bytes
        self.requestID = requestID
        self.client = client
        self.grantID = grantID
        self.reason = reason
    }

    func record(sequence: Int64) -> AuditRecord {
        AuditRecord(sequence: sequence, time: time, actor: actor, role: role, tenant: tenant, subject: subject,
                    objectID: objectID, objectVersion: objectVersion, objectKind: objectKind, action: action.code,
                    dataClass: dataClass.code, purpose: purpose.code, justification: justification, outcome: outcome,
                    errorCode: errorCode, bytes: bytes, requestID: requestID, client: client, grantID: grantID, reason: reason)
    }
}
