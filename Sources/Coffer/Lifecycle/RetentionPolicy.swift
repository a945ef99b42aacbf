import CofferCrypto

/// A kind of data with a retention period of its own: each content kind, and the kinds of
/// personal data and records the policies name.
public struct RetentionClass: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The class's code: an object kind's code, or `account-pii`, `technical-identifier`,
    /// `billing`, `access-log`.
    public let code: String
    private init(code: String) { self.code = code }

    /// The content of one object kind.
    public static func content(_ kind: ObjectKind) -> RetentionClass { RetentionClass(code: kind.code) }
    /// A person's account data: name, email, company, password, consents (P9).
    public static let accountPII = RetentionClass(code: "account-pii")
    /// IP addresses, user agents and devices seen for a person (P10).
    public static let technicalIdentifier = RetentionClass(code: "technical-identifier")
    /// Billing records: the card's last four digits and the billing address (P11).
    public static let billing = RetentionClass(code: "billing")
    /// The access log (P5), kept for the whole vault.
    public static let accessLog = RetentionClass(code: "access-log")

    /// Every class, content kinds first.
    public static let all: [RetentionClass] = ObjectKind.all.map(content) + [.accountPII, .technicalIdentifier, .billing, .accessLog]

    /// The object kind, for a content class.
    public var objectKind: ObjectKind? { ObjectKind.all.first { $0.code == code } }

    /// The class named `code`.
    /// - Throws: `CofferError` `invalidArgument` for an unknown class.
    public init(parsing code: String) throws {
        guard let known = RetentionClass.all.first(where: { $0.code == code }) else {
            throw CofferError(.invalidArgument, "unknown data class '\(code)'; use one of \(RetentionClass.all.map(\.code).joined(separator: ", "))")
        }
        self = known
    }

    public init(from decoder: any Decoder) throws {
        self = try RetentionClass(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }

    public var description: String { code }

    public static func < (lhs: RetentionClass, rhs: RetentionClass) -> Bool {
        (all.firstIndex(of: lhs) ?? 0) < (all.firstIndex(of: rhs) ?? 0)
    }
}

/// The event a retention period is counted from.
public enum RetentionClock: String, Sendable, Codable, CustomStringConvertible {
    /// When the object version or record was made.
    case creation
    /// When the tenant's account was closed (nothing is due while it is open).
    case closure
    /// When the identifier was last seen.
    case lastSeen = "last-seen"

    public var description: String { rawValue }
}

/// Where the period in force comes from.
public enum RetentionSource: String, Sendable, Codable, CustomStringConvertible {
    /// The policies' default.
    case policy
    /// The tenant's plan (run telemetry).
    case plan
    /// A per-tenant setting (`coffer retention set`).
    case tenant
    /// A legal obligation to keep (billing records).
    case legal
    /// The access log's own retention (`coffer audit retention`).
    case vault

    public var description: String { rawValue }
}

/// How long one class of a tenant's data is kept.
public struct RetentionRule: Sendable, Codable, Hashable {
    /// The class of data.
    public let dataClass: RetentionClass
    /// What the period counts from.
    public let clock: RetentionClock
    /// The period in days; nil for no limit.
    public let days: Int?
    /// Where the period comes from.
    public let source: RetentionSource
    /// The promise it keeps.
    public let promise: String
}

/// The retention periods: the policies' defaults, the plan's telemetry period, and the
/// per-tenant settings the policies allow. Where two policies differ, the stricter value is the
/// default ([lifecycle.md](lifecycle.md)).
enum RetentionPolicy {
    /// Seven years, counted as days (two leap days).
    static let sevenYears = 7 * 365 + 2

    /// The longest period a tenant setting may give (100 years).
    static let maximumDays = 36_500

    /// The default rule of a class, before any tenant setting.
    static func defaultRule(_ dataClass: RetentionClass, plan: Plan, accessLogDays: Int) -> RetentionRule {
        switch dataClass.code {
        case ObjectKind.scanResult.code: RetentionRule(dataClass: dataClass, clock: .creation, days: 90, source: .policy, promise: "P7")
        case ObjectKind.runTelemetry.code:
            RetentionRule(dataClass: dataClass, clock: .creation, days: telemetryDays(plan), source: .plan, promise: "P8")
        case ObjectKind.testScript.code, ObjectKind.testResult.code:
            RetentionRule(dataClass: dataClass, clock: .closure, days: 365, source: .policy, promise: "P6")
        case RetentionClass.accountPII.code: RetentionRule(dataClass: dataClass, clock: .closure, days: 30, source: .policy, promise: "P9")
        case RetentionClass.technicalIdentifier.code:
            RetentionRule(dataClass: dataClass, clock: .lastSeen, days: 90, source: .policy, promise: "P10")
        case RetentionClass.billing.code: RetentionRule(dataClass: dataClass, clock: .closure, days: sevenYears, source: .legal, promise: "P11")
        case RetentionClass.accessLog.code: RetentionRule(dataClass: dataClass, clock: .creation, days: accessLogDays, source: .vault, promise: "P5")
        // Scan configurations, dashboards and configuration: the policies name no period;
        // they are customer content kept like scripts and results.
        default: RetentionRule(dataClass: dataClass, clock: .closure, days: 365, source: .policy, promise: "P6")
        }
    }

    /// Run telemetry's period on `plan`: 7 days, 90 days, or no limit.
    static func telemetryDays(_ plan: Plan) -> Int? {
        switch plan {
        case .free: 7
        case .team: 90
        case .scale: nil
        }
    }

    /// The rules in force for a tenant: the defaults, with its settings where allowed.
    static func rules(plan: Plan, overrides: [RetentionClass: Int], accessLogDays: Int) -> [RetentionRule] {
        RetentionClass.all.map { dataClass in
            let base = defaultRule(dataClass, plan: plan, accessLogDays: accessLogDays)
            guard var days = overrides[dataClass] else { return base }
            // A setting never outlasts the policies' period where only shorter ones are allowed:
            // one made under another plan (telemetry on scale, then free) is capped.
            if dataClass != .content(.scanResult), let limit = base.days { days = min(days, limit) }
            return RetentionRule(dataClass: dataClass, clock: base.clock, days: days, source: .tenant, promise: base.promise)
        }
    }

    /// Checks a per-tenant setting: scan results may be given any period (P7: configurable);
    /// other content only a shorter one than the policies' (stricter); personal data, billing
    /// records and the access log none (their periods are the policies' and the law's).
    /// - Throws: `CofferError` `invalidArgument`.
    static func checkOverride(_ dataClass: RetentionClass, days: Int, plan: Plan) throws {
        guard (1...maximumDays).contains(days) else {
            throw CofferError(.invalidArgument, "a retention period is 1 to \(maximumDays) days")
        }
        guard let kind = dataClass.objectKind else {
            throw CofferError(.invalidArgument, "\(dataClass) is kept as the policies and the law say; a tenant cannot change it (only content classes can be set)")
        }
        if kind == .scanResult { return }
        let base = defaultRule(dataClass, plan: plan, accessLogDays: 0)
        if let limit = base.days, days > limit {
            throw CofferError(.invalidArgument, "\(dataClass) may only be kept shorter than the policies' \(limit) days (\(base.clock) clock); only scan results may be kept longer")
        }
    }
}
