import CofferCrypto
import CofferPostgres
import Foundation
import PostgresNIO

/// The servers `.ci/run` starts (scripts/ci-services.sh), from the environment.
enum ScaleOutTestServers {
    static let environment = ProcessInfo.processInfo.environment
    static var postgresAvailable: Bool { environment["COFFER_TEST_POSTGRES_URL"] != nil && environment["COFFER_TEST_POSTGRES_PII_URL"] != nil }

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
