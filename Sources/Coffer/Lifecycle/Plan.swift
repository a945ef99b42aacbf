import CofferCrypto

/// A tenant's plan, which sets how long its run telemetry is kept (P8).
public enum Plan: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Run telemetry kept 7 days. The default for a new tenant: where the policies differ, the
    /// stricter value.
    case free
    /// Run telemetry kept 90 days.
    case team
    /// Run telemetry kept without limit.
    case scale

    /// The plan named `code`.
    /// - Throws: `CofferError` `invalidArgument` for an unknown plan.
    public init(parsing code: String) throws {
        guard let plan = Plan(rawValue: code) else {
            throw CofferError(.invalidArgument, "unknown plan '\(code)'; use one of \(Plan.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = plan
    }

    public var description: String { rawValue }
}

/// Whether a tenant's account is open.
public enum TenantStatus: String, Sendable, Codable, CustomStringConvertible {
    /// The account is open.
    case active
    /// The account was closed: the retention clocks that start at closure run from then.
    case closed
    /// The whole tenant was erased (``Vault/requestErasure(tenant:reason:context:)``): its keys
    /// are destroyed and nothing is stored for it again.
    case erased

    public var description: String { rawValue }
}
