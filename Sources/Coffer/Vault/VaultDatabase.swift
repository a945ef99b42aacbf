import CofferCrypto
import CofferSQL
import Foundation
import GRDB
import Logging

/// Opens one SQLite file of the vault as a GRDB `DatabasePool` in WAL mode with Coffer's settings.
enum VaultDatabase {
    /// How a file is tuned.
    struct Tuning {
        /// SQLite page size for a new file (larger pages suit large blobs).
        var pageSize = 4096
        /// Page cache per connection, in KiB.
        var cacheKiB = 8 * 1024
        /// Memory-mapped I/O size in bytes (0: off).
        var mmapSize = 0
    }

    /// How long a statement waits for a lock another connection holds.
    static let busyTimeoutMilliseconds = 30_000

    static func open(_ url: URL, migrator: DatabaseMigrator, tuning: Tuning, readOnly: Bool = false) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(Double(busyTimeoutMilliseconds) / 1000)
        configuration.maximumReaderCount = 4
        configuration.label = url.lastPathComponent
        // Arguments never appear in GRDB's errors or logs (they may hold ciphertext).
        configuration.publicStatementArguments = false
        configuration.prepareDatabase { db in
            // Freed pages are overwritten with zeros, so deleted rows leave nothing behind.
            try db.execute(sql: "PRAGMA secure_delete = ON")
            try db.execute(sql: "PRAGMA page_size = \(tuning.pageSize)")
            try db.execute(sql: "PRAGMA cache_size = -\(tuning.cacheKiB)")
            try db.execute(sql: "PRAGMA mmap_size = \(tuning.mmapSize)")
            // Temporary tables and indices stay in memory, never in a temp file.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let existed = FileManager.default.fileExists(atPath: url.path)
        if !existed && !readOnly {
            // Made empty with mode 0600 before SQLite sees it: SQLite gives the -wal and -shm files
            // it creates the database file's mode, so they are private from the start too.
            let fd = Foundation.open(url.path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd) }
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: url.path, configuration: configuration)
        } catch {
            throw CofferError(.storage, "cannot open \(url.lastPathComponent): \(Self.describe(error))")
        }
        if !existed { chmod(url.path, 0o600) }
        guard !readOnly else { return pool }
        do {
            // GRDB's pool sets `synchronous = NORMAL` on its writer when it turns WAL on, after
            // `prepareDatabase` ran: a commit would then be durable only at the next checkpoint.
            // Every commit of a vault file (an access record above all) is durable when it
            // returns, so FULL is set again here, on the one connection that writes.
            try SQLiteDatabase(pool).makeDurable()
            if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                throw CofferError(.schemaMismatch,
                                  "\(url.lastPathComponent) was written by a newer Coffer; upgrade Coffer to open this vault")
            }
            try migrator.migrate(pool)
        } catch let error as CofferError {
            throw error
        } catch {
            throw CofferError(.storage, "cannot migrate \(url.lastPathComponent): \(Self.describe(error))")
        }
        return pool
    }

    /// The error to show callers (``SQLiteErrors/translate(_:)``).
    static func translate(_ error: any Error) -> any Error { SQLiteErrors.translate(error) }

    /// Runs `body`, translating database errors into `CofferError`.
    @discardableResult
    static func guardedSync<T>(_ body: () throws -> T) throws -> T { try SQLiteErrors.guarded(body) }

    /// Runs `body`, translating database errors into `CofferError`.
    @discardableResult
    static func guarded<T>(_ body: () async throws -> T) async throws -> T { try await SQLiteErrors.guarded(body) }

    /// A database error without statement arguments.
    static func describe(_ error: any Error) -> String { SQLiteErrors.describe(error) }
}
