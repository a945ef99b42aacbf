import CofferCrypto
import Foundation

/// A change waiting for a second admin's approval (dual control). While the vault has two or
/// more admins without a tenant limit, the changes that open PII, erase evidence or approve
/// others wait here: registering a principal with a role in ``dualControlRoles``, widening a
/// principal's roles or tenants, removing or narrowing one of the last two unlimited admins, and
/// pruning the access log. ``Vault/approveChange(_:context:)`` carries one out;
/// ``Vault/pendingChanges(context:)`` lists them.
public struct PendingChange: Sendable, Codable, Hashable {
    /// What a pending change does. A struct over codes, so kinds can be added without breaking
    /// callers that switch over the ones they know.
    public struct Kind: Hashable, Sendable, Codable, CustomStringConvertible {
        /// The kind's code, as `coffer principal pending` prints it.
        public let code: String
        private init(code: String) { self.code = code }

        /// Registering a principal (``PendingChange/principal``, ``PendingChange/roles``,
        /// ``PendingChange/tenants``).
        public static let principalAdd = Kind(code: "principal-add")
        /// Giving a principal new roles or tenants (what it will hold).
        public static let principalUpdate = Kind(code: "principal-update")
        /// Removing a principal.
        public static let principalRemove = Kind(code: "principal-remove")
        /// Pruning the access log before ``PendingChange/pruneBefore``.
        public static let auditPrune = Kind(code: "audit-prune")

        /// Every kind.
        static let all: [Kind] = [.principalAdd, .principalUpdate, .principalRemove, .auditPrune]

        /// The kind with `code`.
        /// - Throws: `CofferError` `invalidArgument` for an unknown code.
        init(parsing code: String) throws {
            guard let kind = Kind.all.first(where: { $0.code == code }) else {
                throw CofferError(.invalidArgument, "unknown kind of change '\(code)'")
            }
            self = kind
        }

        public init(from decoder: any Decoder) throws {
            self = try Kind(parsing: try decoder.singleValueContainer().decode(String.self))
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(code)
        }

        public var description: String { code }
    }

    /// The change's id (`change_` and 32 hex digits), what the approver names.
    public let changeID: String
    /// What the change does.
    public let kind: Kind
    /// The principal the change is about; nil for an audit prune.
    public let principal: PrincipalID?
    /// The roles the principal will hold (principal-add, principal-update); nil otherwise.
    public let roles: [Role]?
    /// The tenants the principal will be limited to (principal-add, principal-update); nil for
    /// every tenant, and for the other kinds.
    public let tenants: [TenantID]?
    /// The prune's boundary time (audit-prune, Unix milliseconds): records older than it go.
    public let pruneBefore: Int64?
    /// The admin who asked.
    public let requestedBy: PrincipalID
    /// When (Unix milliseconds).
    public let requestedAt: Int64

    /// The roles that need a second admin: they open PII, erase evidence or approve others.
    public static let dualControlRoles: Set<Role> = [.admin, .privacyOfficer, .auditor]

    /// A change as stored (every field given).
    init(changeID: String, kind: Kind, principal: PrincipalID?, roles: [Role]?, tenants: [TenantID]?, pruneBefore: Int64?,
         requestedBy: PrincipalID, requestedAt: Int64) {
        self.changeID = changeID
        self.kind = kind
        self.principal = principal
        self.roles = roles?.sorted()
        self.tenants = tenants
        self.pruneBefore = pruneBefore
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
    }

    /// A new change to principal `id`, asked by `requester` now: `after` is what it will hold
    /// (nil: it is removed; `existing` false: it is registered).
    init(principal id: PrincipalID, existing: Bool, to after: Entitlement?, requestedBy requester: PrincipalID) throws {
        self.init(changeID: try makeIdentifier("change"), kind: after == nil ? .principalRemove : existing ? .principalUpdate : .principalAdd,
                  principal: id, roles: after.map { Array($0.roles) }, tenants: after?.tenants, pruneBefore: nil,
                  requestedBy: requester, requestedAt: nowMilliseconds())
    }

    /// A new prune of the access log before `time`, asked by `requester` now.
    init(pruneBefore time: Int64, requestedBy requester: PrincipalID) throws {
        self.init(changeID: try makeIdentifier("change"), kind: .auditPrune, principal: nil, roles: nil, tenants: nil,
                  pruneBefore: time, requestedBy: requester, requestedAt: nowMilliseconds())
    }

    /// Why `approver` may not approve this change, or nil when it may: only an admin without a
    /// tenant limit approves, never the one who asked, nor the principal the change is about.
    func refusal(approver: Principal) -> CofferError? {
        if requestedBy == approver.id {
            return CofferError(.accessDenied, "a second, different admin must approve \(changeID)")
        } else if approver.tenants != nil || !approver.roles.contains(.admin) {
            return CofferError(.accessDenied, "only an admin without a tenant limit approves changes")
        } else if principal == approver.id {
            return CofferError(.accessDenied, "'\(approver.id)' cannot approve \(changeID), a change to itself: another admin must")
        }
        return nil
    }

    /// True when `caller` may see this change in the pending list: one without a tenant limit
    /// sees every change; a tenant-limited one those it asked for and the registrations and
    /// updates of principals within its tenants.
    func isVisible(to caller: Principal?) -> Bool {
        guard let caller else { return false }
        if caller.tenants == nil || requestedBy == caller.id { return true }
        return [.principalAdd, .principalUpdate].contains(kind) && caller.covers(scope: tenants)
    }
}

/// What approving a pending change did.
public struct ApprovedChange: Sendable, Hashable {
    /// The change, now carried out.
    public let change: PendingChange
    /// For an audit prune, how many records were deleted; nil for the other kinds.
    public let prunedRecords: Int?
}

/// What a prune of the access log did: deleted records at once, or, under dual control, asked a
/// second admin to approve it.
public enum AuditPruneResult: Sendable, Hashable {
    /// Records were deleted: how many.
    case pruned(records: Int)
    /// Nothing was deleted yet: the prune waits for ``Vault/approveChange(_:context:)``.
    case pending(PendingChange)
}

/// The roles and tenants a principal holds, or will hold after a change.
struct Entitlement: Sendable, Hashable {
    /// Its roles.
    let roles: Set<Role>
    /// Its tenants, nil for every tenant.
    let tenants: [TenantID]?

    init(roles: [Role], tenants: [TenantID]?) {
        self.roles = Set(roles)
        self.tenants = tenants
    }

    /// True for an admin without a tenant limit: who counts for dual control.
    var isUnlimitedAdmin: Bool { tenants == nil && roles.contains(.admin) }
}

extension Principal {
    /// What the principal holds now.
    var entitlement: Entitlement { Entitlement(roles: roles, tenants: tenants) }

    /// Why this principal, an admin, may not make `target` (nil: a new principal) hold `after`
    /// (nil: remove it), or nil when it may. Nobody reaches a principal beyond their own tenants,
    /// or gives a scope beyond them; a tenant-limited admin gives no role it does not hold.
    func refusal(toChange target: Principal?, to after: Entitlement?) -> CofferError? {
        if let target, !covers(scope: target.tenants) {
            let verb = after == nil ? "remove" : "change"
            return CofferError(.accessDenied, "'\(id)' may not \(verb) a principal whose scope reaches beyond its own tenants")
        }
        guard let after else { return nil }
        let added = after.roles.subtracting(target?.roles ?? [])
        if tenants != nil, let missing = added.subtracting(roles).sorted().first {
            return CofferError(.accessDenied, "'\(id)' does not hold the role \(missing) and cannot give it")
        } else if !covers(scope: after.tenants) {
            return CofferError(.accessDenied, "'\(id)' may not give a principal a scope beyond its own tenants")
        }
        return nil
    }
}
