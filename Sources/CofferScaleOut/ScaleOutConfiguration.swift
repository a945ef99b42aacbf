import CofferCrypto
import CofferObjectStore
import CofferPostgres
import CofferS3
import Foundation

/// Where a scale-out vault lives: PostgreSQL for the control data, the catalog and the access log
/// (`database`), PostgreSQL again, with its own role, for PII (`piiDatabase`), and S3-compatible
/// object storage for the segments, in one or more named locations (`default` for tenants not
/// pinned elsewhere).
public struct ScaleOutConfiguration: Sendable {
    /// The main database (the content role).
    public var database: PostgresAddress
    /// The PII database (its own role: P2).
    public var piiDatabase: PostgresAddress
    /// The object stores by location name; `default` holds the segments of unpinned tenants.
    public var locations: [String: S3Location]
    /// The object stores' credentials.
    public var credentials: S3Credentials
    /// Where this instance writes every checkpoint of the shared access log, outside the databases.
    public var witness: URL
    /// Connections per database and instance.
    public var connectionsPerDatabase: Int
    /// Retries of object-store requests (5xx, 429, timeouts, lost connections).
    public var retry: RetryPolicy = RetryPolicy()
    /// A pending version whose writer sent no heartbeat for this long is treated as abandoned by
    /// the collector (its writer was killed or lost); keep it well above the time one group of
    /// segments takes to upload.
    public var abandonedAfter: Duration = .seconds(15 * 60)
    /// How long a released segment object stays in its bucket before the collector deletes it:
    /// longer than any upload or read still in flight may take.
    public var collectionGrace: Duration = .seconds(10 * 60)

    public init(database: PostgresAddress, piiDatabase: PostgresAddress, locations: [String: S3Location], credentials: S3Credentials,
                witness: URL, connectionsPerDatabase: Int = 6) {
        self.database = database
        self.piiDatabase = piiDatabase
        self.locations = locations
        self.credentials = credentials
        self.witness = witness
        self.connectionsPerDatabase = connectionsPerDatabase
    }

    /// The configuration as the CLI takes it, with the AWS SDK's conventions for the object
    /// stores: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` (default `us-east-1`),
    /// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (path-style addressing always).
    /// - Parameters:
    ///   - vault: `postgres://USER@HOST[:PORT]/DB[?sslmode=...&schema=...]`, password from `PGPASSWORD` or `passfile=`.
    ///   - piiDatabase: The PII database's URL; its password from `COFFER_PII_PGPASSWORD` or its `passfile=`.
    ///   - objectStore: `s3://BUCKET[/PREFIX]`, the `default` location.
    ///   - locations: More locations, `NAME=s3://BUCKET[/PREFIX]`.
    ///   - witness: The witness directory.
    /// - Throws: `CofferError` `invalidArgument` naming what is missing or malformed (never a secret).
    public static func parse(vault: String, piiDatabase: String?, objectStore: String?, locations: [String], witness: URL,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ScaleOutConfiguration {
        let database = try PostgresAddress(parsing: vault, environment: environment)
        guard let piiDatabase else {
            throw CofferError(.invalidArgument, "a PostgreSQL vault needs its PII database too: --pii-database postgres://ROLE@HOST/DB (or COFFER_PII_DATABASE), a role of its own")
        }
        var piiEnvironment = environment
        piiEnvironment["PGPASSWORD"] = environment["COFFER_PII_PGPASSWORD"]
        piiEnvironment["PGPASSFILE"] = environment["COFFER_PII_PGPASSFILE"]
        let pii = try PostgresAddress(parsing: piiDatabase, environment: piiEnvironment.compactMapValues { $0 })
        guard pii.user != database.user || pii.database != database.database else {
            throw CofferError(.invalidArgument, "the PII database must be reached with a role of its own or be a database of its own (P2): not \(database.user)@\(database.database) again")
        }
        guard let endpoint = environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"] else {
            throw CofferError(.invalidArgument, "set AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) to the object store's http(s)://HOST[:PORT]")
        }
        let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        guard let objectStore else {
            throw CofferError(.invalidArgument, "a PostgreSQL vault keeps its segments in object storage: --object-store s3://BUCKET[/PREFIX] (or COFFER_OBJECT_STORE)")
        }
        var parsed = ["default": try S3Location(parsing: objectStore, endpoint: endpoint, region: region)]
        // A bare NAME (no `=`) is not a definition: `tenant add --location NAME` pins a tenant.
        for entry in locations where entry.contains("=") {
            guard let equals = entry.firstIndex(of: "="), !entry[..<equals].isEmpty else {
                throw CofferError(.invalidArgument, "a location is NAME=s3://BUCKET[/PREFIX], not \(entry)")
            }
            let name = String(entry[..<equals])
            guard parsed[name] == nil else { throw CofferError(.invalidArgument, "location '\(name)' is given twice") }
            parsed[name] = try S3Location(parsing: String(entry[entry.index(after: equals)...]), endpoint: endpoint, region: region)
        }
        guard let key = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"] else {
            throw CofferError(.invalidArgument, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the object store")
        }
        let credentials = try S3Credentials(accessKeyID: key, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"])
        return ScaleOutConfiguration(database: database, piiDatabase: pii, locations: parsed, credentials: credentials, witness: witness)
    }
}
