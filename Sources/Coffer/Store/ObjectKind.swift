import CofferCrypto

/// The kind of a content object. Each kind is a data class with its own data key per tenant,
/// so retention and erasure can destroy one class without touching the others.
public struct ObjectKind: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The kind's code.
    public let code: String
    private init(code: String) { self.code = code }

    /// A load-test script.
    public static let testScript = ObjectKind(code: "test-script")
    /// The results of a test run.
    public static let testResult = ObjectKind(code: "test-result")
    /// Telemetry captured during a run.
    public static let runTelemetry = ObjectKind(code: "run-telemetry")
    /// A security scan's configuration.
    public static let scanConfig = ObjectKind(code: "scan-config")
    /// A security scan's results.
    public static let scanResult = ObjectKind(code: "scan-result")
    /// A saved dashboard.
    public static let dashboard = ObjectKind(code: "dashboard")
    /// Other tenant configuration.
    public static let config = ObjectKind(code: "config")

    /// Every kind.
    public static let all: [ObjectKind] = [.testScript, .testResult, .runTelemetry, .scanConfig, .scanResult, .dashboard, .config]

    /// The kind with `code`.
    /// - Parameter code: A kind's code, such as `test-script`.
    /// - Throws: `CofferError` `invalidArgument` for an unknown code.
    public init(parsing code: String) throws {
        guard let known = ObjectKind.all.first(where: { $0.code == code }) else {
            throw CofferError(.invalidArgument, "unknown kind '\(code)'; use one of \(ObjectKind.all.map(\.code).joined(separator: ", "))")
        }
        self = known
    }

    public init(from decoder: any Decoder) throws {
        self = try ObjectKind(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }

    public var description: String { code }
}
