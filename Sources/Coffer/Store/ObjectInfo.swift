/// What the vault knows about one version of an object, without its content.
public struct ObjectVersionInfo: Sendable, Codable, Hashable {
    /// The version number (1, 2, ...; numbers of abandoned puts are skipped).
    public let version: Int
    /// Plaintext size in bytes.
    public let size: Int64
    /// Stored ciphertext size in bytes.
    public let storedSize: Int64
    /// Ciphertext segment size in bytes.
    public let segmentSize: Int
    /// HMAC-SHA256 of the plaintext under the tenant's digest key, hex. Equal digests mean equal
    /// content within a tenant and data class; it reveals nothing to anyone without the key.
    public let digest: String
    /// When the version was committed (Unix milliseconds).
    public let createdAt: Int64
}

/// An object and its versions.
public struct ObjectInfo: Sendable, Codable, Hashable {
    /// The object id (`obj_` and 32 hex digits).
    public let id: ObjectID
    /// The tenant.
    public let tenant: TenantID
    /// The kind.
    public let kind: ObjectKind
    /// The name the tenant gave it.
    public let name: String
    /// The newest version.
    public let latestVersion: Int
    /// When the object was first created (Unix milliseconds).
    public let createdAt: Int64
    /// When the newest version was committed (Unix milliseconds).
    public let updatedAt: Int64
    /// The versions that can be read, oldest first.
    public let versions: [ObjectVersionInfo]

    /// The newest version's details.
    public var latest: ObjectVersionInfo? { versions.last }
}

/// Filters and paging for ``Vault/list(tenant:filter:context:)``.
public struct ObjectFilter: Sendable, Hashable {
    /// Only objects of this kind.
    public var kind: ObjectKind?
    /// At most this many objects (1...1000).
    public var limit: Int
    /// Continue after this cursor (from the previous page's ``ObjectPage/nextCursor``).
    public var cursor: String?

    /// Creates a filter.
    /// - Parameters:
    ///   - kind: Only objects of this kind (nil for every kind).
    ///   - limit: At most this many objects (1...1000).
    ///   - cursor: Continue after this cursor (nil for the first page).
    public init(kind: ObjectKind? = nil, limit: Int = 100, cursor: String? = nil) {
        self.kind = kind
        self.limit = limit
        self.cursor = cursor
    }
}

/// One page of a listing, newest first.
public struct ObjectPage: Sendable, Codable, Hashable {
    /// The objects on this page.
    public let objects: [ObjectInfo]
    /// Pass as ``ObjectFilter/cursor`` to get the next page; nil on the last page.
    public let nextCursor: String?
}
