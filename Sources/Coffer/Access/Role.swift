import CofferCrypto

/// What a principal may do. Deny by default: a principal can do only what one of its roles allows.
public struct Role: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The role's code.
    public let code: String
    private init(code: String) { self.code = code }

    /// The platform backend: reads and writes content of its tenants.
    public static let service = Role(code: "service")
    /// Support staff: metadata only (names, sizes, times); no content; PII only with a grant.
    public static let support = Role(code: "support")
    /// Issues and revokes PII grants and runs subject requests.
    public static let privacyOfficer = Role(code: "privacy-officer")
    /// Reads the access log and its reports, nothing else.
    public static let auditor = Role(code: "auditor")
    /// Counts and sizes aggregated per tenant, never one object's content.
    public static let reporting = Role(code: "reporting")
    /// Keys, retention settings, principals and tenants.
    public static let admin = Role(code: "admin")

    /// Every role.
    public static let all: [Role] = [.service, .support, .privacyOfficer, .auditor, .reporting, .admin]

    /// The role with `code`.
    /// - Throws: `CofferError` `invalidArgument` for an unknown code.
    public init(parsing code: String) throws {
        guard let role = Role.all.first(where: { $0.code == code }) else {
            throw CofferError(.invalidArgument, "unknown role '\(code)'; use one of \(Role.all.map(\.code).joined(separator: ", "))")
        }
        self = role
    }

    public init(from decoder: any Decoder) throws {
        self = try Role(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }

    public var description: String { code }
    public static func < (a: Role, b: Role) -> Bool { a.code < b.code }
}

/// A registered principal: a person or service that may act on the vault.
public struct Principal: Hashable, Sendable, Codable {
    /// The principal id (the `actor` of an ``AccessContext``).
    public let id: PrincipalID
    /// Its roles.
    public let roles: [Role]
    /// The tenants it may act on, or nil for every tenant.
    public let tenants: [TenantID]?
    /// When it was registered (Unix milliseconds).
    public let createdAt: Int64
    /// Who registered it.
    public let createdBy: PrincipalID

    /// True when the principal may act on `tenant`.
    public func covers(tenant: TenantID) -> Bool { tenants?.contains(tenant) ?? true }

    /// True when every tenant of `scope` (nil: every tenant) is one this principal may act on.
    /// - Parameter scope: Another principal's tenant limit.
    /// - Returns: False when `scope` reaches beyond this principal's.
    public func covers(scope: [TenantID]?) -> Bool {
        guard let tenants else { return true }
        guard let scope else { return false }
        return Set(scope).isSubset(of: Set(tenants))
    }
}
