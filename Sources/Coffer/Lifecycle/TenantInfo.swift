/// What `coffer tenant show` reports about a tenant: its plan and lifecycle, the retention in
/// force, its holds, and how much it stores.
public struct TenantInfo: Sendable, Codable, Hashable {
    /// How much of one content class a tenant stores.
    public struct ClassUsage: Sendable, Codable, Hashable {
        /// The object kind's code.
        public let dataClass: String
        /// Objects with at least one version.
        public let objects: Int
        /// Versions stored.
        public let versions: Int
        /// Plaintext bytes of every stored version.
        public let bytes: Int64
    }

    /// The tenant.
    public let id: TenantID
    /// Its plan.
    public let plan: Plan
    /// Whether its account is open.
    public let status: TenantStatus
    /// When it was registered (Unix milliseconds).
    public let createdAt: Int64
    /// When its account was closed (Unix milliseconds), if it was.
    public let closedAt: Int64?
    /// When the whole tenant was erased (Unix milliseconds), if it was.
    public var erasedAt: Int64?
    /// The retention in force, one rule per class.
    public let retention: [RetentionRule]
    /// Its legal holds in force (tenant-wide and on its subjects).
    public let holds: [LegalHold]
    /// Content stored, per class (classes with nothing stored left out).
    public let content: [ClassUsage]
    /// Data subjects (people) registered.
    public let subjects: Int
}
