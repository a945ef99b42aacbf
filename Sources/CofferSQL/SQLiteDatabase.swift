import CofferCrypto
import Foundation
import GRDB
import GRDBSQLite

/// A store database in one SQLite file, through a GRDB `DatabasePool` (WAL: readers never wait
/// for the writer, and one writer at a time across processes). The embedded default.
package struct SQLiteDatabase: SQLDatabase {
    /// The pool, for what only SQLite has (segments read in place, checkpoints, backups).
    package let pool: DatabasePool
    /// The group committer of the async writes, when the database has one.
    package let commits: SQLiteCommitQueue?

    /// Wraps `pool`; with `commits`, async writes are group-committed through it (one
    /// transaction and one sync for every write that queued up meanwhile).
    package init(_ pool: DatabasePool, commits: SQLiteCommitQueue? = nil) {
        self.pool = pool
        self.commits = commits
    }

    package var engine: SQLEngine { .sqlite }

    package func close() {
        commits?.stop()
        try? pool.close()
    }

    package func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try SQLiteErrors.guarded { try pool.read { db in try body(SQLiteSession(db)) } }
    }

    package func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await SQLiteErrors.guarded {
            // The reader connection is handed back on its own queue as soon as `body` returns.
            // GRDB's async `read` hands it back only once the awaiting task runs again on a
            // cooperative thread; Coffer also reads synchronously from async code, and when every
            // cooperative thread blocked waiting for a reader held by a suspended task, the
            // process hung (64 tasks listing tenants at once were enough on two cores).
            try await withCheckedThrowingContinuation { continuation in
                pool.asyncRead { database in
                    continuation.resume(with: Result { try body(SQLiteSession(database.get())) })
                }
            }
        }
    }

    @discardableResult
    package func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try SQLiteErrors.guarded { try pool.write { db in try body(SQLiteSession(db)) } }
    }

    @discardableResult
    package func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        if let commits {
            return try await SQLiteErrors.guarded { try await commits.write(durably: true) { db in try body(SQLiteSession(db)) } }
        }
        return try await SQLiteErrors.guarded { try await pool.write { db in try body(SQLiteSession(db)) } }
    }

    /// Sets `synchronous = FULL` on the pool's writer: every commit syncs the WAL before it
    /// returns. (GRDB's WAL setup leaves NORMAL, durable only at checkpoints.)
    package func makeDurable() throws {
        try SQLiteErrors.guarded { try pool.writeWithoutTransaction { db in try Self.syncEveryCommit(db, true) } }
    }

    /// `synchronous = FULL` (true) or NORMAL (false) on `db`.
    private static func syncEveryCommit(_ db: Database, _ full: Bool) throws {
        try db.execute(sql: full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
    }

    @discardableResult
    package func writeDeferringDurability<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        if let commits {
            return try await SQLiteErrors.guarded { try await commits.write(durably: false) { db in try body(SQLiteSession(db)) } }
        }
        return try await SQLiteErrors.guarded {
            try await pool.writeWithoutTransaction { db in
                try Self.syncEveryCommit(db, false)
                let result = Result { () throws -> T in
                    var value: T?
                    try db.inTransaction {
                        value = try body(SQLiteSession(db))
                        return .commit
                    }
                    return value!
                }
                // Back to FULL before the writer runs anything else, whatever happened.
                try Self.syncEveryCommit(db, true)
                return try result.get()
            }
        }
    }
}

/// A GRDB connection inside one transaction. Statements are prepared once per connection and
/// reused (GRDB's statement cache).
package final class SQLiteSession: SQLSession {
    /// The GRDB connection, for what only SQLite has.
    package let db: Database

    /// Wraps `db`, which must be inside a transaction.
    package init(_ db: Database) {
        self.db = db
    }

    package var engine: SQLEngine { .sqlite }

    @discardableResult
    package func execute(sql: String, arguments: SQLArguments) throws -> Int {
        let statement = try bound(sql, arguments)
        defer { sqlite3_clear_bindings(statement.sqliteStatement) }
        try statement.execute()
        return db.changesCount
    }

    package func fetchAll(sql: String, arguments: SQLArguments) throws -> [SQLRow] {
        let statement = try bound(sql, arguments)
        // SQLite's copies of the values go as soon as the rows are read.
        defer { sqlite3_clear_bindings(statement.sqliteStatement) }
        let columns = SQLColumns(statement.columnNames)
        let cursor = try Row.fetchCursor(statement)
        var rows: [SQLRow] = []
        while let row = try cursor.next() {
            rows.append(SQLRow(columns: columns, values: Array(row.databaseValues)))
        }
        return rows
    }

    package func cursor(sql: String, arguments: SQLArguments) throws -> any SQLCursor {
        let statement = try bound(sql, arguments)
        return SQLiteCursor(try Row.fetchCursor(statement), columns: SQLColumns(statement.columnNames))
    }

    /// The cached statement of `sql` with `arguments` bound, ready to run.
    ///
    /// The values are bound with SQLite's own calls (copied by SQLite) rather than through
    /// `StatementArguments`, whose generic initialisers and checks were a twentieth of the CPU
    /// of a 4 KiB get; GRDB is told the statement's arguments are set, so it only resets it
    /// before running it.
    /// - Throws: `DatabaseError` `SQLITE_MISUSE` when the count of values is not the statement's.
    private func bound(_ sql: String, _ arguments: SQLArguments) throws -> Statement {
        let statement = try db.cachedStatement(sql: sql)
        let handle = statement.sqliteStatement
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard expected == arguments.values.count else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE,
                                message: "the statement takes \(expected) arguments, \(arguments.values.count) were given")
        }
        // Whatever its last run left (a failed step makes the next reset report it again).
        sqlite3_reset(handle)
        statement.setUncheckedArguments(StatementArguments())
        for (offset, value) in arguments.values.enumerated() {
            let code = Self.bind(value, to: handle, at: CInt(offset + 1))
            guard code == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "cannot bind an argument") }
        }
        return statement
    }

    /// Binds `value` as parameter `index` of `handle`, copied (empty text and blobs too, which a
    /// nil pointer would turn into NULL).
    private static func bind(_ value: DatabaseValue, to handle: OpaquePointer, at index: CInt) -> CInt {
        switch value.storage {
        case .null:
            return sqlite3_bind_null(handle, index)
        case .int64(let number):
            return sqlite3_bind_int64(handle, index, number)
        case .double(let number):
            return sqlite3_bind_double(handle, index, number)
        case .string(var text):
            return text.withUTF8 { utf8 in
                guard utf8.count <= CInt.max else { return SQLITE_TOOBIG }
                guard let base = utf8.baseAddress, !utf8.isEmpty else { return sqlite3_bind_text(handle, index, "", 0, transient) }
                return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                    sqlite3_bind_text(handle, index, $0, CInt(utf8.count), transient)
                }
            }
        case .blob(let data):
            return data.withUnsafeBytes { bytes in
                guard bytes.count <= CInt.max else { return SQLITE_TOOBIG }
                guard let base = bytes.baseAddress, !bytes.isEmpty else { return sqlite3_bind_zeroblob(handle, index, 0) }
                return sqlite3_bind_blob(handle, index, base, CInt(bytes.count), transient)
            }
        }
    }
}

/// SQLite's `SQLITE_TRANSIENT`: the value is copied before the bind call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A GRDB row cursor, one row at a time.
final class SQLiteCursor: SQLCursor {
    private let rows: RowCursor
    private let columns: SQLColumns

    init(_ rows: RowCursor, columns: SQLColumns) {
        self.rows = rows
        self.columns = columns
    }

    func next() throws -> SQLRow? {
        try rows.next().map { SQLRow(columns: columns, values: Array($0.databaseValues)) }
    }
}

/// How SQLite's errors reach callers: as `CofferError` `storage`, without statement arguments.
package enum SQLiteErrors {
    /// The error to show callers: a database error becomes `CofferError` `storage` (without
    /// statement arguments); anything else (Coffer's own errors, the caller's sink errors,
    /// cancellation) passes through unchanged.
    package static func translate(_ error: any Error) -> any Error {
        guard error is DatabaseError else { return error }
        return CofferError(.storage, describe(error))
    }

    /// Runs `body`, translating database errors into `CofferError`.
    @discardableResult
    package static func guarded<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw translate(error) }
    }

    /// Runs `body`, translating database errors into `CofferError`.
    @discardableResult
    package static func guarded<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw translate(error) }
    }

    /// A database error without statement arguments.
    package static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            if error.resultCode == .SQLITE_FULL {
                return "the disk holding the vault is full (SQLite error 13); nothing of this operation was stored. Free space, then retry"
            }
            return "SQLite error \(error.resultCode.rawValue): \(error.message ?? "unknown")"
        }
        return String(describing: type(of: error))
    }
}
