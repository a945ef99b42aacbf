import CofferCrypto
import Foundation
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

    /// The longest justification, in characters.
    public static let maximumJustificationLength = 1024

    /// Creates a context. Everything in it goes into the access log, which must never hold
    /// personal data: free text is capped, may hold no control characters, and is refused when
    /// it holds a payment card number.
    /// - Parameters:
    ///   - actor: Principal id, 1 to 128 characters.
    ///   - purpose: Why.
    ///   - justification: Free text, required for PII access; whitespace alone counts as none.
    ///     At most 1,024 characters.
    ///   - requestID: The caller's request id, at most 256 characters.
    ///   - client: The caller's client description, at most 256 characters; an IP address is
    ///     logged only as a keyed hash.
    /// - Throws: `CofferError` `invalidArgument` for an actor that breaks
    ///   ``IdentifierRules/validatePrincipal(_:as:)`` (empty, overlong, commas, tabs, line breaks,
    ///   control characters), or free text that is too long or holds control characters;
    ///   `cardNumberRefused` for free text holding a card number.
    public init(actor: PrincipalID, purpose: Purpose, justification: String? = nil, requestID: String? = nil,
                client: String? = nil) throws {
        try IdentifierRules.validatePrincipal(actor.rawValue, as: "actor (--actor or COFFER_ACTOR)")
        try IdentifierRules.validateLabel(requestID, as: "request id")
        try IdentifierRules.validateLabel(client, as: "client")
        let justification = justification?.trimmingCharacters(in: .whitespacesAndNewlines)
        try IdentifierRules.validateLabel(justification, as: "justification", maximumLength: Self.maximumJustificationLength)
        for (text, field) in [(justification, "justification"), (requestID, "request id"), (client, "client")] {
            if let text { try PIIValidation.refuseCardNumbers(text, field: field) }
        }
        self.actor = actor
        self.purpose = purpose
        self.justification = justification.flatMap { $0.isEmpty ? nil : $0 }
        self.requestID = requestID
        self.client = client
    }
}
