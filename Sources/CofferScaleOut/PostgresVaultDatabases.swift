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
    let main: PostgresPool
    let piiPool: PostgresPool
    let control: PostgresSQLDatabase
    let content: PostgresSQLDatabase
    let audit: PostgresSQLDatabase
    let pii: PostgresSQLDatabase

    /// Connects to both databases and applies the migrations they lack (one instance at a time).
    /// - Throws: `CofferError` `accessDenied`, `storage`, `schemaMismatch` (a newer Coffer's schema).
    static func open(main mainAddress: PostgresAddress, pii piiAddress: PostgresAddress, connections: Int = 6,
                     logger: Logger) async throws -> PostgresVaultDatabases {
        let main = try await PostgresPool.open(mainAddress, maximumConnections: connections, logger: logger)
        let pii: PostgresPool
        do {
            pii = try await PostgresPool.open(piiAddress, maximumConnections: connections, logger: logger)
        } catch {
            main.close()
            throw error
        }
        do {
            try await PostgresMigrator(PostgresVaultSchema.mainMigrations).migrate(main)
            try await PostgresMigrator(PostgresVaultSchema.piiMigrations).migrate(pii)
            let databases = PostgresVaultDatabases(
                main: main, piiPool: pii,
                control: PostgresSQLDatabase(main, writerLock: PostgresVaultSchema.WriterLock.control),
                content: PostgresSQLDatabase(main, writerLock: PostgresVaultSchema.WriterLock.content),
                audit: PostgresSQLDatabase(main, writerLock: PostgresVaultSchema.WriterLock.audit),
                pii: PostgresSQLDatabase(pii, writerLock: PostgresVaultSchema.WriterLock.pii))
            try await databases.audit.write { db in try AuditLog.prepareState(db) }
            return databases
        } catch {
            main.close()
            pii.close()
            throw error
        }
    }

    /// Closes both pools.
    func close() {
        main.close()
        piiPool.close()
    }
}
