import CofferCrypto

/// What kind of thing an ``Identifier`` names, and the rules its text must meet.
public protocol IdentifierKind: Sendable {
    /// Checks an identifier's text.
    /// - Parameter rawValue: The text.
    /// - Throws: `CofferError` `invalidArgument` saying what is allowed.
    static func validate(_ rawValue: String) throws
}

/// An identifier the vault stores, decides on and logs: ``TenantID``, ``ObjectID``,
/// ``SubjectID``, ``PrincipalID`` or ``GrantID``. Each kind is its own type, so a subject id
/// cannot be passed where a tenant is expected.
///
/// Making one from a string or a literal checks nothing; the vault checks every identifier it is
/// given against ``IdentifierRules`` before policy, so a bad one is refused with
/// `invalid-argument` and nothing is recorded for it. Use ``init(validating:)`` to check early,
/// for example while parsing a request. It encodes as a plain string.
public struct Identifier<Kind: IdentifierKind>: RawRepresentable, Hashable, Sendable, Codable, Comparable,
    CustomStringConvertible, ExpressibleByStringLiteral {
    /// The identifier's text.
    public let rawValue: String

    /// Wraps `rawValue` without checking it.
    /// - Parameter rawValue: The identifier's text.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// Wraps `rawValue` without checking it.
    /// - Parameter rawValue: The identifier's text.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Wraps a literal without checking it.
    /// - Parameter value: The identifier's text.
    public init(stringLiteral value: String) { self.rawValue = value }

    /// Wraps `rawValue` after checking it.
    /// - Parameter rawValue: The identifier's text.
    /// - Throws: `CofferError` `invalidArgument` saying what is allowed.
    public init(validating rawValue: String) throws {
        try Kind.validate(rawValue)
        self.rawValue = rawValue
    }

    /// Checks the identifier against its kind's rules.
    /// - Throws: `CofferError` `invalidArgument` saying what is allowed.
    public func validate() throws { try Kind.validate(rawValue) }

    /// The identifier's text.
    public var description: String { rawValue }

    /// Orders identifiers by their text.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Decodes the identifier from a single string.
    /// - Parameter decoder: The decoder.
    /// - Throws: A decoding error when the value is not a string.
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes the identifier as a single string.
    /// - Parameter encoder: The encoder.
    /// - Throws: An encoding error from `encoder`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// The kinds of ``Identifier``: one type per kind, each with its rules.
public enum IdentifierKinds {
    /// Tenant ids: 1 to 64 lower-case ASCII letters, digits, `-`, `_` or `.`, not `.` or `..`,
    /// not starting with `-` (``IdentifierRules/validateTenant(_:)``).
    public enum Tenant: IdentifierKind {
        /// Checks a tenant id.
        /// - Parameter rawValue: The id.
        /// - Throws: `CofferError` `invalidArgument`.
        public static func validate(_ rawValue: String) throws { try IdentifierRules.validateTenant(rawValue) }
    }

    /// Object ids, assigned by the vault when an object is first written (`obj_` and 32 hex
    /// digits).
    public enum Object: IdentifierKind {
        /// Checks an object id.
        /// - Parameter rawValue: The id.
        /// - Throws: `CofferError` `invalidArgument`.
        public static func validate(_ rawValue: String) throws { try IdentifierRules.validateReference(rawValue, as: "object id") }
    }

    /// Data subject ids, assigned by the vault when a person is added (`subj_` and 32 hex digits).
    public enum Subject: IdentifierKind {
        /// Checks a subject id.
        /// - Parameter rawValue: The id.
        /// - Throws: `CofferError` `invalidArgument`.
        public static func validate(_ rawValue: String) throws { try IdentifierRules.validateReference(rawValue, as: "subject id") }
    }

    /// Principal ids: who acts, who is granted, who is registered; 1 to 128 characters without
    /// commas or control characters (``IdentifierRules/validatePrincipal(_:as:)``).
    public enum Principal: IdentifierKind {
        /// Checks a principal id.
        /// - Parameter rawValue: The id.
        /// - Throws: `CofferError` `invalidArgument`.
        public static func validate(_ rawValue: String) throws { try IdentifierRules.validatePrincipal(rawValue) }
    }

    /// Grant ids, assigned by the vault when a grant is issued (`grant_` and 32 hex digits).
    public enum Grant: IdentifierKind {
        /// Checks a grant id.
        /// - Parameter rawValue: The id.
        /// - Throws: `CofferError` `invalidArgument`.
        public static func validate(_ rawValue: String) throws { try IdentifierRules.validateReference(rawValue, as: "grant id") }
    }
}

/// A tenant: one customer account of the platform.
public typealias TenantID = Identifier<IdentifierKinds.Tenant>
/// An object: one stored piece of customer content, with its versions.
public typealias ObjectID = Identifier<IdentifierKinds.Object>
/// A data subject: one person whose PII the vault holds.
public typealias SubjectID = Identifier<IdentifierKinds.Subject>
/// A principal: a person or service that acts on the vault.
public typealias PrincipalID = Identifier<IdentifierKinds.Principal>
/// A grant: a temporary permission to open PII.
public typealias GrantID = Identifier<IdentifierKinds.Grant>
