import CofferCrypto
/// Who is accessing data and why. Every vault operation takes one; it is what policy decides on
/// and what the access log records.
public struct AccessContext: Sendable, Hashable {
    /// The principal id of the caller (a service account, an operator, an employee).
    public let actor: PrincipalID
    /// Why.
    public let purpose: Purpose
    /// Free text explaining the access; required for PII.
    public let justification: String?
    /// The caller's request id, for correlating log records with the caller's own logs.
    public let requestID: String?
    /// The client, such as an IP address or a tool name, when the caller gives one.
    public let client: String?

    /// Creates a context.
    /// - Parameters:
    ///   - actor: Principal id, 1 to 128 characters.
    ///   - purpose: Why.
    ///   - justification: Free text, required for PII access.
    ///   - requestID: The caller's request id.
    ///   - client: The caller's client description.
    /// - Throws: `CofferError` `invalidArgument` for an actor that breaks
    ///   ``IdentifierRules/validatePrincipal(_:as:)`` (empty, overlong, commas, tabs, line breaks,
    ///   control characters), or a request id or client over 256 characters or with control
    ///   characters.
    public init(actor: PrincipalID, purpose: Purpose, justification: String? = nil, requestID: String? = nil,
                client: String? = nil) throws {
        try IdentifierRules.validatePrincipal(actor.rawValue, as: "actor (--actor or COFFER_ACTOR)")
        try IdentifierRules.validateLabel(requestID, as: "request id")
        try IdentifierRules.validateLabel(client, as: "client")
        self.actor = actor
        self.purpose = purpose
        self.justification = justification.flatMap { $0.isEmpty ? nil : $0 }
        self.requestID = requestID
        self.client = client
    }
}
