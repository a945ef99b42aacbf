import CofferCrypto
import CofferObjectStore
import CofferPostgres
import CofferS3
import Foundation
import PostgresNIO

/// The servers `.ci/run` starts (scripts/ci-services.sh), from the environment.
enum ScaleOutTestServers {
    static let environment = ProcessInfo.processInfo.environment
    static var postgresAvailable: Bool { environment["COFFER_TEST_POSTGRES_URL"] != nil && environment["COFFER_TEST_POSTGRES_PII_URL"] != nil }
    /// Both servers: PostgreSQL and the S3 server.
    static var available: Bool { postgresAvailable && environment["COFFER_TEST_S3_ENDPOINT"] != nil }

    /// The S3 test server's credentials.
    static func credentials() throws -> S3Credentials {
        try S3Credentials(accessKeyID: environment["COFFER_TEST_S3_ACCESS_KEY_ID"] ?? "",
                          secretAccessKey: environment["COFFER_TEST_S3_SECRET_ACCESS_KEY"] ?? "")
    }

    /// A location on a new bucket of the S3 test server.
    static func newBucket() async throws -> S3ObjectStore {
        let bucket = "coffer-so-" + (try SecureRandom.bytes(6)).map { String(format: "%02x", $0) }.joined()
        let location = try S3Location(parsing: "s3://\(bucket)/vault", endpoint: environment["COFFER_TEST_S3_ENDPOINT"] ?? "",
                                      region: environment["COFFER_TEST_S3_REGION"] ?? "us-east-1")
        let store = try S3ObjectStore(location: location,
                                      credentials: try credentials())
        try await store.createBucket()
        return store
    }

    /// The main database as the content role, or the PII database as its role, in `schema`.
    static func address(pii: Bool = false, schema: String? = nil) throws -> PostgresAddress {
        let url = environment[pii ? "COFFER_TEST_POSTGRES_PII_URL" : "COFFER_TEST_POSTGRES_URL"] ?? ""
        let password = environment[pii ? "COFFER_TEST_POSTGRES_PII_PASSWORD" : "COFFER_TEST_POSTGRES_PASSWORD"] ?? ""
        let options = "?sslmode=disable" + (schema.map { "&schema=\($0)" } ?? "")
        return try PostgresAddress(parsing: url + options, environment: ["PGPASSWORD": password])
    }

    /// Runs `body` with the addresses of a fresh schema in each database, dropped afterwards.
    static func withFreshSchemas(_ body: (_ main: PostgresAddress, _ pii: PostgresAddress) async throws -> Void) async throws {
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
