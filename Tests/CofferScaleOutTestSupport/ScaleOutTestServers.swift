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

    /// A location on a new bucket of the S3 test server, for tests about buckets (residency,
    /// collection). SeaweedFS gives each bucket volumes of its own, and a few hundred use up the
    /// test server's: vaults that need only some place use ``newPrefix()``.
    public static func newBucket() async throws -> S3ObjectStore {
        try await store(bucket: "coffer-so-" + (try randomName()), prefix: "vault")
    }

    /// A location under a new prefix of one shared bucket of the S3 test server.
    public static func newPrefix() async throws -> S3ObjectStore {
        try await store(bucket: "coffer-so-vaults", prefix: "vault-" + (try randomName()))
    }

    private static func store(bucket: String, prefix: String) async throws -> S3ObjectStore {
        let location = try S3Location(parsing: "s3://\(bucket)/\(prefix)", endpoint: environment["COFFER_TEST_S3_ENDPOINT"] ?? "",
                                      region: environment["COFFER_TEST_S3_REGION"] ?? "us-east-1")
        let store = try S3ObjectStore(location: location, credentials: try credentials())
        try await store.createBucket()
        return store
    }

    private static func randomName() throws -> String {
        try SecureRandom.bytes(6).map { String(format: "%02x", $0) }.joined()
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

    /// Runs `body` with a configuration on fresh schemas and a new prefix of the shared bucket,
    /// and its witness directory, removed afterwards.
    /// At most ``VaultSlots/count`` of these run at once (each holds about a dozen server
    /// connections, and Swift Testing starts every test together); one nested inside another runs
    /// in its parent's slot.
    public static func withFreshConfiguration(_ body: (ScaleOutConfiguration) async throws -> Void) async throws {
        if VaultSlots.held {
            try await withFreshConfigurationInSlot(body)
            return
        }
        await VaultSlots.shared.acquire()
        do {
            try await VaultSlots.$held.withValue(true) { try await withFreshConfigurationInSlot(body) }
        } catch {
            await VaultSlots.shared.release()
            throw error
        }
        await VaultSlots.shared.release()
    }

    private static func withFreshConfigurationInSlot(_ body: (ScaleOutConfiguration) async throws -> Void) async throws {
        try await withFreshSchemas { main, pii in
            let bucket = try await newPrefix()
            let witness = FileManager.default.temporaryDirectory.appendingPathComponent("witness-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: witness) }
            try await body(ScaleOutConfiguration(database: main, piiDatabase: pii, locations: ["default": bucket.location],
                                                 credentials: try credentials(), witness: witness, connectionsPerDatabase: 3))
        }
    }

    /// Runs `body` with the addresses of a fresh schema in each database, dropped afterwards.
    public static func withFreshSchemas(_ body: (_ main: PostgresAddress, _ pii: PostgresAddress) async throws -> Void) async throws {
        let name = "vault_" + (try randomName())
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

/// The slots bounding how many test vaults hold server connections at once.
public actor VaultSlots {
    /// How many test vaults run at once: 8 vaults of four pools of 3 connections stay well under
    /// the CI cluster's `max_connections` of 500.
    public static let count = 8
    static let shared = VaultSlots()
    @TaskLocal static var held = false

    private var free = count
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
