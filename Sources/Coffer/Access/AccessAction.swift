/// What an access does, as the access log records it.
public struct AccessAction: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The action's code.
    public let code: String
    init(_ code: String) { self.code = code }

    /// Reading content or PII.
    public static let read = AccessAction("read")
    /// Writing content or PII.
    public static let write = AccessAction("write")
    /// Deleting content or PII.
    public static let delete = AccessAction("delete")
    /// Listing objects or subjects (metadata).
    public static let list = AccessAction("list")
    /// Reading one object's or subject's metadata.
    public static let stat = AccessAction("stat")
    /// Exporting data.
    public static let export = AccessAction("export")
    /// Issuing a grant.
    public static let grant = AccessAction("grant")
    /// Revoking a grant.
    public static let revoke = AccessAction("revoke")
    /// Rotating keys or reading key status.
    public static let keyOperation = AccessAction("key-operation")
    /// Retention purges.
    public static let purge = AccessAction("purge")
    /// Erasure of a subject.
    public static let erasure = AccessAction("erasure")
    /// Registering a tenant.
    public static let tenantCreate = AccessAction("tenant-create")
    /// Adding, removing or listing principals.
    public static let principalAdmin = AccessAction("principal-admin")
    /// Reading the access log, its proofs and reports.
    public static let auditRead = AccessAction("audit-read")
    /// Checking a password (the hash never leaves the vault).
    public static let authenticate = AccessAction("authenticate")
    /// Finding subjects through the blind index.
    public static let find = AccessAction("find")
    /// Aggregate counts and sizes (reporting).
    public static let report = AccessAction("report")
    /// Changing a setting the log itself keeps (the access log's minimum retention).
    public static let configure = AccessAction("configure")
    /// A tenant's lifecycle: its plan, its account closure, its retention settings.
    public static let lifecycle = AccessAction("lifecycle")
    /// Placing or lifting a legal hold.
    public static let hold = AccessAction("hold")

    public init(from decoder: any Decoder) throws { code = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }
    public var description: String { code }
}

/// The kind of data an access touches, for policy and for the access review.
public struct DataClass: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The class's code.
    public let code: String
    init(_ code: String) { self.code = code }

    /// Customer content (objects' bytes).
    public static let content = DataClass("content")
    /// Metadata of content (names, sizes, times).
    public static let metadata = DataClass("metadata")
    /// Personal data.
    public static let pii = DataClass("pii")
    /// The access log.
    public static let auditLog = DataClass("audit-log")
    /// Keys, principals, grants, tenants: the vault's administration.
    public static let administration = DataClass("administration")
    /// Aggregates per tenant.
    public static let aggregate = DataClass("aggregate")

    public init(from decoder: any Decoder) throws { code = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }
    public var description: String { code }
}
