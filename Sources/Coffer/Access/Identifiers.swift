import CofferCrypto

/// The rules for the identifiers Coffer stores, decides on and logs: principal ids (actors,
/// grantees, the operator of a new vault), tenant ids, and the subject, object and grant ids
/// callers pass in. A refused identifier is refused before policy, so nothing is recorded for it.
public enum IdentifierRules {
    /// The longest principal id, subject, object or grant id, in characters.
    public static let maximumLength = 128
    /// The longest tenant id, in characters.
    public static let maximumTenantLength = 64

    /// Checks a principal id: 1 to 128 characters, none of them a comma (roles and tenants are
    /// stored comma-separated), a control character (C0 including tab and line feed, DEL, C1), a
    /// line or paragraph separator, a bidirectional control, or U+FFFD (what undecodable bytes
    /// became).
    /// - Parameters:
    ///   - id: The principal id.
    ///   - what: How to name it in the error ("actor", "grantee", "operator").
    /// - Throws: `CofferError` `invalidArgument` saying what is allowed.
    public static func validatePrincipal(_ id: String, as what: String = "principal id") throws {
        guard isAcceptable(id, maximumLength: maximumLength) else {
            throw CofferError(.invalidArgument,
                              "\(what) must be 1 to \(maximumLength) characters without commas, tabs, line breaks or control characters; got '\(DisplayText.escaped(String(id.prefix(maximumLength))))'")
        }
    }

    /// Checks a tenant id: 1 to 64 lower-case ASCII letters, digits, `-`, `_` or `.`, not `.` or
    /// `..`, not starting with `-` (so it is never taken for a path component or an option).
    /// - Parameter tenant: The tenant id.
    /// - Throws: `CofferError` `invalidArgument` saying what is allowed.
    public static func validateTenant(_ tenant: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_.".unicodeScalars)
        guard !tenant.isEmpty, tenant.unicodeScalars.count <= maximumTenantLength,
              tenant.unicodeScalars.allSatisfy({ allowed.contains($0) }),
              tenant != ".", tenant != "..", !tenant.hasPrefix("-") else {
            throw CofferError(.invalidArgument,
                              "tenant id must be 1-64 lower-case letters, digits, '-', '_' or '.', not '.' or '..' and not starting with '-'")
        }
    }

    /// Checks a subject, object or grant id passed in: the rules of
    /// ``validatePrincipal(_:as:)``.
    /// - Parameters:
    ///   - id: The id.
    ///   - what: How to name it in the error ("object id", "subject id").
    /// - Throws: `CofferError` `invalidArgument`.
    public static func validateReference(_ id: String, as what: String) throws {
        try validatePrincipal(id, as: what)
    }

    /// Checks optional free-form context text (request ids, client descriptions): at most
    /// `maximumLength` characters and no control, separator or bidirectional characters.
    /// - Parameters:
    ///   - text: The text, or nil.
    ///   - what: How to name it in the error.
    ///   - maximumLength: The longest accepted text, in characters.
    /// - Throws: `CofferError` `invalidArgument`.
    public static func validateLabel(_ text: String?, as what: String, maximumLength: Int = 256) throws {
        guard let text else { return }
        guard text.count <= maximumLength, !text.unicodeScalars.contains(where: isForbidden) else {
            throw CofferError(.invalidArgument, "\(what) must be at most \(maximumLength) characters without control characters or line breaks")
        }
    }

    /// Whether `scalar` may never be part of an identifier.
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\u{FFFD}" || DisplayText.needsEscaping(scalar)
    }

    private static func isAcceptable(_ id: String, maximumLength: Int) -> Bool {
        !id.isEmpty && id.count <= maximumLength && !id.unicodeScalars.contains { $0 == "," || isForbidden($0) }
    }
}
