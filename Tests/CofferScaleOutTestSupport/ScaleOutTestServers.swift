import CofferCrypto
import CofferObjectStore
import CofferPostgres
import CofferS3
import CofferScaleOut
import Foundation
import PostgresNIO

/// The servers `.ci/run` starts (scripts/ci-services.sh), from the environment.
public enum ScaleOutTestServers {
    public static let environment = ProcessInfo.processInfo.environment
    public static var postgresAvailable: Bool { environment["COFFER_TEST_POSTGRES_URL"] != nil && environment["COFFER_TEST_POSTGRES_PII_URL"] != nil }
    /// Both servers: PostgreSQL and the S3 server.
    public static var available: Bool { postgresAvailable && environment["COFFER_TEST_S3_ENDPOINT"] != nil }

    /// The S3 test server's credentials.
    public static func credentials() throws -> S3Credentials {
        try S3Credentials(accessKeyID: environment["COFFER_TEST_S3_ACCESS_KEY_ID"] ?? "",
                          secretAccessKey: environment["COFFER_TEST_S3_SECRET_ACCESS_KEY"] ?? "")
    }

    /// A location on a new bucket of the S3 test server.
    public static func newBucket() async throws -> S3ObjectStore {
        let bucket = "coffer-so-" + (try SecureRandom.bytes(6)).map { String(format: "%02x", $0) }.joined()
        let location = try S3Location(parsing: "s3://\(bucket)/vault", endpoint: environment["COFFER_TEST_S3_ENDPOINT"] ?? "",
                                      region: environment["COFFER_TEST_S3_REGION"] ?? "us-east-1")
        let store = try S3ObjectStore(location: location,
                                      credentials: try credentials())
        try await store.createBucket()
        return store
    }

    /// The main database as the content role, or the PII database as its role, in `schema`.
    public static func address(pii: Bool = false, schema: String? = nil) throws -> PostgresAddress {
        let url = environment[pii ? "COFFER_TEST_POSTGRES_PII_URL" : "COFFER_TEST_POSTGRES_URL"] ?? ""
        let password = environment[pii ? "COFFER_TEST_POSTGRES_PII_PASSWORD" : "COFFER_TEST_POSTGRES_PASSWORD"] ?? ""
        let options = "?sslmode=disable" + (schema.map { "&schema=\($0)" } ?? "")
        return try PostgresAddress(parsing: url + options, environment: ["PGPASSWORD": password])
    }

    /// Whether the tests run their vaults on PostgreSQL and S3 (`COFFER_TEST_ENGINE=scale-out`).
    public static var engineIsScaleOut: Bool { environment["COFFER_TEST_ENGINE"] == "scale-out" }

    /// Runs `body` with a configuration on fresh schemas and a new bucket, and its witness
    /// directory, removed afterwards.
    public static func withFreshConfiguration(_ body: (ScaleOutConfiguration) async throws -> Void) async throws {
        try await withFreshSchemas { main, pii in
            let bucket = try await newBucket()
            let witness = FileManager.default.temporaryDirectory.appendingPathComponent("witness-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: witness) }
            try await body(ScaleOutConfiguration(database: main, piiDatabase: pii, locations: ["default": bucket.location],
                                                 credentials: try credentials(), witness: witness, connectionsPerDatabase: 3))
        }
    }

    /// Runs `body` with the addresses of a fresh schema in each database, dropped afterwards.
    public static func withFreshSchemas(_ body: (_ main: PostgresAddress, _ pii: PostgresAddress) async throws -> Void) async throws {
        let name = "vault_" + (try SecureRandom.bytes(6)).map { String(format: "%02x", $0) }.joined()
        let admins = [try await PostgresPool.open(try address()), try await PostgresPool.open(try address(pii: true))]
        defer { for admin in admins { admin.close() } }
        for admin in admins {
            try await admin.withConnection { c in _ = try await c.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(name)"), logger: .init(label: "t")) }
        }
        var failure: (any Error)?
        do {
            try await body(try address(schema: name), try address(pii: true, schema: name))
        } catch {
            failure = error
        }
        for admin in admins {
            try? await admin.withConnection { c in _ = try await c.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(name) CASCADE"), logger: .init(label: "t")) }
        }
        if let failure { throw failure }
    }
}
