import CofferCrypto

/// Why data is accessed: a code from a closed set. Every operation carries one.
public struct Purpose: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The code as stored in the access log.
    public let code: String

    private init(code: String) { self.code = code }

    /// The platform backend doing its ordinary work for the tenant.
    public static let serviceOperation = Purpose(code: "service-operation")
    /// A request the customer made (through support or the product).
    public static let customerRequest = Purpose(code: "customer-request")
    /// Support staff helping a customer.
    public static let support = Purpose(code: "support")
    /// Investigating a security incident.
    public static let securityInvestigation = Purpose(code: "security-investigation")
    /// A legal obligation (court order, legal hold).
    public static let legal = Purpose(code: "legal")
    /// A data subject's request (access, correction, erasure, export).
    public static let subjectRequest = Purpose(code: "subject-request")
    /// Vault administration (keys, principals, retention).
    public static let administration = Purpose(code: "administration")
    /// Reading the access log and its reports.
    public static let audit = Purpose(code: "audit")

    /// Every purpose Coffer knows.
    public static let all: [Purpose] = [
        .serviceOperation, .customerRequest, .support, .securityInvestigation, .legal, .subjectRequest,
        .administration, .audit,
    ]

    /// The purpose with `code`.
    /// - Throws: `CofferError` `purposeMissing` for an empty code, `invalidArgument` for an unknown one.
    public init(parsing code: String) throws {
        guard !code.isEmpty else {
            throw CofferError(.purposeMissing, "no purpose given; pass --purpose (or set COFFER_PURPOSE) to one of \(Purpose.all.map(\.code).joined(separator: ", "))")
        }
        guard let known = Purpose.all.first(where: { $0.code == code }) else {
            throw CofferError(.invalidArgument, "unknown purpose '\(code)'; use one of \(Purpose.all.map(\.code).joined(separator: ", "))")
        }
        self = known
    }

    public init(from decoder: any Decoder) throws {
        self = try Purpose(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }

    public var description: String { code }
}
