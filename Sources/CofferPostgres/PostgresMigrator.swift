import CofferCrypto
import Foundation
import PostgresNIO

/// Named schema migrations applied once, in order, each in its own transaction under a
/// transaction-level advisory lock, so several instances starting at once migrate one at a time
/// and none sees half a schema. Applied names are kept in `coffer_migration`.
public struct PostgresMigrator: Sendable {
    /// One migration: a name and its SQL statements.
    public struct Migration: Sendable {
        public let name: String
        public let statements: [String]
        /// - Parameters:
        ///   - name: Unique, never changed once released.
        ///   - statements: DDL run in order in one transaction.
        public init(_ name: String, _ statements: [String]) {
            self.name = name
            self.statements = statements
        }
    }

    /// The lock key all Coffer migrations of one schema take (`pg_advisory_xact_lock`, scoped as
    /// `AdvisoryLockKey` says).
    static let lockKey: Int64 = 0x436F_6666_6572_4D31  // "CofferM1"

    public let migrations: [Migration]

    public init(_ migrations: [Migration]) { self.migrations = migrations }

    /// Applies the migrations `database` has not applied yet.
    /// - Returns: The names applied now.
    /// - Throws: `CofferError` `schemaMismatch` when the database has migrations this code does
    ///   not know (a newer Coffer made it), `storage`, `accessDenied`.
    @discardableResult
    public func migrate(_ database: PostgresPool) async throws -> [String] {
        let known = migrations.map(\.name)
        let migrations = self.migrations
        return try await database.withTransaction { connection in
            var key = PostgresBindings()
            key.append(Self.lockKey)
            try await connection.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(\(AdvisoryLockKey.scoped("$1")))", binds: key),
                                       logger: PostgresPool.quiet)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS coffer_migration (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: PostgresPool.quiet)
            var applied = Set<String>()
            for try await name in try await connection.query("SELECT name FROM coffer_migration", logger: PostgresPool.quiet).decode(String.self) {
                applied.insert(name)
            }
            if let unknown = applied.subtracting(known).sorted().first {
                throw CofferError(.schemaMismatch, "the database has migration '\(unknown)', which this Coffer does not know: a newer version made it")
            }
            var done: [String] = []
            for migration in migrations where !applied.contains(migration.name) {
                for statement in migration.statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: PostgresPool.quiet) }
                try await connection.query("INSERT INTO coffer_migration (name) VALUES (\(migration.name))", logger: PostgresPool.quiet)
                done.append(migration.name)
            }
            return done
        }
    }
}
