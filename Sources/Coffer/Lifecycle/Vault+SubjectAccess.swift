import CofferCrypto
import Foundation

/// A subject-access report (P14): what the vault holds about a person, field by field, and every
/// access to their data the log records, who made it and why.
public struct SubjectAccessReport: Sendable, Codable, Hashable {
    /// When it was made (Unix milliseconds).
    public let generatedAt: Int64
    /// Everything held about the person, decrypted: fields, consents, identifiers.
    public let record: SubjectRecord
    /// The names of the fields held (the password hash is held but never shown).
    public let fieldsHeld: [String]
    /// The log's records about the person, oldest first.
    public let accesses: [AuditRecord]
}

extension Vault {
    /// The subject-access report of one person (P14): their record and the log's records of
    /// every access to it. A privacy officer's subject request (purpose `subject-request` or
    /// `legal`, with a justification); the read of the record and of the log are both recorded.
    /// - Parameters:
    ///   - subject: The person.
    ///   - context: Who asks.
    /// - Returns: The report.
    /// - Throws: `CofferError` `notFound` (an erased subject too), `accessDenied`, `purposeMissing`.
    public func subjectAccessReport(_ subject: SubjectID, context: AccessContext) async throws -> SubjectAccessReport {
        let record = try await self.subject(subject, context: context)
        var accesses: [AuditRecord] = []
        var before: Int64?
        while true {
            let page = try await auditRecords(AuditQuery(subject: subject, before: before, limit: 10_000), context: context)
            accesses += page
            guard page.count == 10_000, let oldest = page.last?.sequence else { break }
            before = oldest
        }
        var held = [(record.name, SubjectField.name), (record.email, .email), (record.company, .company),
                    (record.billingLast4, .billingLast4), (record.billingAddress, .billingAddress)].compactMap { $0.0 == nil ? nil : $0.1.rawValue }
        if record.hasPassword { held.append(SubjectField.passwordHash.rawValue) }
        return SubjectAccessReport(generatedAt: administration.clock.now(), record: record, fieldsHeld: held,
                                   accesses: accesses.sorted { $0.sequence < $1.sequence })
    }
}
