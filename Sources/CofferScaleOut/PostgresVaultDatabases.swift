import Coffer
import CofferCrypto
import CofferPostgres
import CofferSQL
import Foundation
import Logging

/// A vault's databases on PostgreSQL, migrated: the main database (control data, the content
/// catalog, the access log; the content role's) and the PII database (its own role and
/// connection, P2: the credentials of one do not open the other). Each set of tables is an
/// `SQLDatabase` of its own, with its own writers' lock, as each is a file of its own on SQLite.
struct PostgresVaultDatabases: Sendable {
    /// One pool per set of tables, as each is a file of its own on SQLite: a transaction on one
    /// set that reads another (a write of the catalog that looks up a key) then never waits for
    /// a connection held by a transaction waiting on it.
    let pools: [PostgresPool]
    let control: PostgresSQLDatabase
    let content: PostgresSQLDatabase
    let audit: PostgresSQLDatabase
    let pii: PostgresSQLDatabase

    /// Connects to both databases and applies the migrations they lack (one instance at a time).
    /// - Throws: `CofferError` `accessDenied`, `storage`, `schemaMismatch` (a newer Coffer's schema).
    static func open(main mainAddress: PostgresAddress, pii piiAddress: PostgresAddress, connections: Int = 6,
                     logger: Logger) async throws -> PostgresVaultDatabases {
        var pools: [PostgresPool] = []
        do {
            // control, content, audit on the main database; then the PII database.
            for address in [mainAddress, mainAddress, mainAddress, piiAddress] {
                pools.append(try await PostgresPool.open(address, maximumConnections: connections, logger: logger))
            }
            try await PostgresMigrator(PostgresVaultSchema.mainMigrations).migrate(pools[0])
            try await PostgresMigrator(PostgresVaultSchema.piiMigrations).migrate(pools[3])
            let databases = PostgresVaultDatabases(
                pools: pools,
                control: PostgresSQLDatabase(pools[0], writerLock: PostgresVaultSchema.WriterLock.control),
                content: PostgresSQLDatabase(pools[1], writerLock: PostgresVaultSchema.WriterLock.content),
                audit: PostgresSQLDatabase(pools[2], writerLock: PostgresVaultSchema.WriterLock.audit),
                pii: PostgresSQLDatabase(pools[3], writerLock: PostgresVaultSchema.WriterLock.pii))
            try await databases.audit.write { db in try AuditLog.prepareState(db) }
            return databases
        } catch {
            for pool in pools { pool.close() }
            throw error
        }
    }

    /// Closes every pool.
    func close() {
        for pool in pools { pool.close() }
    }
}
