import Foundation

/// The periodic access review the policies promise: who accessed what, PII accesses with their
/// grants and justifications, refusals, accesses outside any grant, and volume outliers.
public struct AccessReview: Sendable, Codable, Hashable {
    /// One actor's accesses in the period.
    public struct ActorSummary: Sendable, Codable, Hashable {
        /// The principal id.
        public let actor: PrincipalID
        /// The roles that allowed its accesses, sorted.
        public let roles: [String]
        /// Its records in the period, whatever their outcome.
        public let total: Int
        /// Allowed accesses per data class code.
        public let allowedByDataClass: [String: Int]
        /// Refused accesses.
        public let denied: Int
        /// Allowed accesses that then failed.
        public let errors: Int
        /// Bytes served or stored by its allowed accesses.
        public let bytes: Int64
    }

    /// One access to personal data.
    public struct PIIAccess: Sendable, Codable, Hashable {
        /// The record's position in the log.
        public let sequence: Int64
        /// When (Unix milliseconds).
        public let time: Int64
        /// Who.
        public let actor: PrincipalID
        /// The tenant concerned.
        public let tenant: TenantID?
        /// The data subject concerned.
        public let subject: SubjectID?
        /// What was done (``AccessAction`` code).
        public let action: String
        /// Why (``Purpose`` code).
        public let purpose: String
        /// The caller's justification.
        public let justification: String?
        /// The grant that allowed it, if one did.
        public let grantID: GrantID?
        /// `allowed`, `denied` or `error`.
        public let outcome: String
    }

    /// A refused access.
    public struct Refusal: Sendable, Codable, Hashable {
        /// The record's position in the log.
        public let sequence: Int64
        /// When (Unix milliseconds).
        public let time: Int64
        /// Who.
        public let actor: PrincipalID
        /// What was asked (``AccessAction`` code).
        public let action: String
        /// On which data (``DataClass`` code).
        public let dataClass: String
        /// The tenant concerned.
        public let tenant: TenantID?
        /// Why (``Purpose`` code).
        public let purpose: String
        /// Why it was refused (policy text, no data values).
        public let reason: String?
    }

    /// An actor whose volume stands out.
    public struct Outlier: Sendable, Codable, Hashable {
        /// The principal id.
        public let actor: PrincipalID
        /// Its records in the period.
        public let accesses: Int
        /// Bytes of its allowed accesses.
        public let bytes: Int64
        /// The median actor's record count.
        public let medianAccesses: Int
        /// What stands out, for people.
        public let why: String
    }

    /// Start of the period (Unix milliseconds, inclusive).
    public let from: Int64
    /// End of the period (Unix milliseconds, exclusive).
    public let to: Int64
    /// Records in the period.
    public let totalRecords: Int
    /// Every actor with records in the period, sorted by id.
    public let actors: [ActorSummary]
    /// Every access to personal data, allowed or not, in log order.
    public let piiAccesses: [PIIAccess]
    /// Allowed PII accesses that no grant covered (privacy officers' subject requests, or anomalies).
    public let outsideGrant: [PIIAccess]
    /// Every refused access, in log order.
    public let refusals: [Refusal]
    /// Actors with at least 20 records and over 5 times the median count, or over 5 times the
    /// median bytes (and at least 1 MiB).
    public let outliers: [Outlier]

    init(from: Int64, to: Int64, records: [AuditRecord]) {
        self.from = from
        self.to = to
        totalRecords = records.count
        let byActor = Dictionary(grouping: records, by: \.actor)
        actors = byActor.keys.sorted().map { actor in
            let mine = byActor[actor]!
            let allowed = mine.filter { $0.outcome == .allowed }
            return ActorSummary(actor: actor, roles: Array(Set(mine.compactMap(\.role))).sorted(), total: mine.count,
                                allowedByDataClass: Dictionary(grouping: allowed, by: \.dataClass).mapValues(\.count),
                                denied: mine.filter { $0.outcome == .denied }.count,
                                errors: mine.filter { $0.outcome == .error }.count,
                                bytes: allowed.reduce(0) { Self.saturatingSum($0, $1.bytes ?? 0) })
        }
        let pii = records.filter { $0.dataClass == DataClass.pii.code }.map {
            PIIAccess(sequence: $0.sequence, time: $0.time, actor: $0.actor, tenant: $0.tenant, subject: $0.subject,
                      action: $0.action, purpose: $0.purpose, justification: $0.justification, grantID: $0.grantID,
                      outcome: $0.outcome.rawValue)
        }
        piiAccesses = pii
        outsideGrant = pii.filter { $0.outcome == AuditRecord.Outcome.allowed.rawValue && $0.grantID == nil }
        refusals = records.filter { $0.outcome == .denied }.map {
            Refusal(sequence: $0.sequence, time: $0.time, actor: $0.actor, action: $0.action, dataClass: $0.dataClass,
                    tenant: $0.tenant, purpose: $0.purpose, reason: $0.reason)
        }
        // Outliers: an actor with at least 20 accesses and more than 5 times the median actor's
        // count, or more than 5 times the median bytes.
        let counts = actors.map(\.total).sorted()
        let bytes = actors.map(\.bytes).sorted()
        let medianCount = counts.isEmpty ? 0 : counts[counts.count / 2]
        let medianBytes = bytes.isEmpty ? 0 : bytes[bytes.count / 2]
        outliers = actors.compactMap { a in
            if a.total >= 20 && a.total > 5 * max(medianCount, 1) {
                return Outlier(actor: a.actor, accesses: a.total, bytes: a.bytes, medianAccesses: medianCount,
                               why: "\(a.total) accesses, more than 5x the median actor (\(medianCount))")
            }
            let (limit, overflow) = Int64(5).multipliedReportingOverflow(by: max(medianBytes, 1))
            if !overflow && a.bytes > limit && a.bytes >= 1 << 20 {
                return Outlier(actor: a.actor, accesses: a.total, bytes: a.bytes, medianAccesses: medianCount,
                               why: "\(a.bytes) bytes read, more than 5x the median actor (\(medianBytes))")
            }
            return nil
        }
    }

    /// `a + b` for byte counts: a negative count (which Coffer never records) counts as 0, and a
    /// sum past `Int64.max` stays at `Int64.max` instead of trapping.
    static func saturatingSum(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(max(b, 0))
        return overflow ? .max : sum
    }

    /// The review as Markdown, for people.
    public var markdown: String {
        func time(_ ms: Int64) -> String { Timestamp(milliseconds: ms).rfc3339 }
        func cell(_ s: String?) -> String { DisplayText.escaped(s ?? "").replacingOccurrences(of: "|", with: "\\|") }
        func cell<Kind>(_ id: Identifier<Kind>?) -> String { cell(id?.rawValue) }
        var out = "# Access review \(time(from)) to \(time(to))\n\n\(totalRecords) access-log records in the period.\n\n"
        out += "## Accesses per actor\n\n| actor | roles | records | allowed by data class | denied | errors | bytes |\n|---|---|---|---|---|---|---|\n"
        for a in actors {
            let classes = a.allowedByDataClass.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            out += "| \(cell(a.actor)) | \(a.roles.joined(separator: ", ")) | \(a.total) | \(classes) | \(a.denied) | \(a.errors) | \(a.bytes) |\n"
        }
        out += "\n## Personal-data accesses (\(piiAccesses.count))\n\n"
        if piiAccesses.isEmpty { out += "None.\n" } else {
            out += "| # | time | actor | tenant | subject | action | purpose | grant | justification | outcome |\n|---|---|---|---|---|---|---|---|---|---|\n"
            for p in piiAccesses {
                out += "| \(p.sequence) | \(time(p.time)) | \(cell(p.actor)) | \(cell(p.tenant)) | \(cell(p.subject)) | \(p.action) | \(p.purpose) | \(cell(p.grantID)) | \(cell(p.justification)) | \(p.outcome) |\n"
            }
        }
        out += "\n## Allowed personal-data accesses outside any grant (\(outsideGrant.count))\n\n"
        out += outsideGrant.isEmpty ? "None.\n" : outsideGrant.map { "- #\($0.sequence) \(time($0.time)) \(cell($0.actor)) \($0.action) \(cell($0.subject)) (\($0.purpose))\n" }.joined()
        out += "\n## Refusals (\(refusals.count))\n\n"
        if refusals.isEmpty { out += "None.\n" } else {
            out += "| # | time | actor | action | data class | tenant | purpose | reason |\n|---|---|---|---|---|---|---|---|\n"
            for r in refusals {
                out += "| \(r.sequence) | \(time(r.time)) | \(cell(r.actor)) | \(r.action) | \(r.dataClass) | \(cell(r.tenant)) | \(r.purpose) | \(cell(r.reason)) |\n"
            }
        }
        out += "\n## Volume outliers (\(outliers.count))\n\n"
        out += outliers.isEmpty ? "None.\n" : outliers.map { "- \(cell($0.actor)): \(cell($0.why))\n" }.joined()
        return out
    }
}
