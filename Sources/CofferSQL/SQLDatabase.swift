import CofferCrypto
import GRDB

/// The engine holding a database. Stores write their SQL once, in the dialect SQLite and
/// PostgreSQL share, and switch on this only for the few statements that differ.
package enum SQLEngine: String, Sendable {
    case sqlite
    case postgres
}

/// A database of Coffer's stores (control data, the catalog, PII) on either engine.
///
/// The SQL the stores pass is the dialect both engines share: `?` placeholders (the PostgreSQL
/// engine numbers them), `ON CONFLICT ... DO NOTHING | DO UPDATE`, `RETURNING`, `coalesce`,
/// `CAST(? AS BIGINT)` or `CAST(? AS TEXT)` where nothing else gives a parameter its type, integers
/// for flags (`WHERE flag = 1`, never a bare column), and `CAST(sum(...) AS BIGINT)`. Values are
/// always bound, never spliced into the text.
///
/// Transactions mean the same on both: a read sees one consistent snapshot; a write runs alone,
/// one writer at a time across every process sharing the database (SQLite's write lock; on
/// PostgreSQL an advisory transaction lock taken first), so a store's read-modify-write needs no
/// further locking on either engine. A body that throws rolls its transaction back.
package protocol SQLDatabase: Sendable {
    /// The engine holding it.
    var engine: SQLEngine { get }

    /// Runs `body` in a read transaction, on the calling thread (which may block: call it from
    /// a thread of Coffer's blocking pool, never from the cooperative pool in a loop).
    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T

    /// Runs `body` in a read transaction on a thread of the engine's own, suspending the caller
    /// meanwhile: no cooperative thread is blocked.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T

    /// Closes the database: what is running finishes, later calls fail.
    func close()

    /// Runs `body` in a write transaction, alone (see the type's notes); commits when it returns.
    @discardableResult
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T

    /// Runs `body` in a write transaction on a thread of the engine's own, suspending the caller
    /// meanwhile.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T

    /// ``write(_:)-(@Sendable)`` whose commit is not waited for on disk: it becomes durable with
    /// the next durable commit of the same database (SQLite: the next commit's WAL sync covers
    /// its frames; PostgreSQL: `synchronous_commit = off` for this transaction). Only for what
    /// a crash of the machine may lose without harm, because a durable commit always follows
    /// when it matters (a put's pending version, made durable by the put's own commit).
    @discardableResult
    func writeDeferringDurability<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
}

/// One transaction's connection, valid only inside the `read` or `write` call that passed it.
package protocol SQLSession: AnyObject {
    /// The engine, for the statements that differ.
    var engine: SQLEngine { get }

    /// Runs one statement.
    /// - Returns: How many rows it inserted, updated or deleted.
    /// - Throws: `CofferError` `storage` (never naming an argument).
    @discardableResult
    func execute(sql: String, arguments: SQLArguments) throws -> Int

    /// Runs one query and returns its rows.
    /// - Throws: `CofferError` `storage` (never naming an argument).
    func fetchAll(sql: String, arguments: SQLArguments) throws -> [SQLRow]

    /// Runs one query and returns its rows one by one, with bounded memory whatever their number
    /// (SQLite steps the statement; PostgreSQL fetches a server-side cursor in batches). Valid
    /// only inside the transaction.
    func cursor(sql: String, arguments: SQLArguments) throws -> any SQLCursor
}

/// The rows of a query, read one at a time.
package protocol SQLCursor: AnyObject {
    /// The next row, or nil after the last.
    func next() throws -> SQLRow?
}

extension SQLSession {
    /// Runs one statement without arguments.
    @discardableResult
    package func execute(sql: String) throws -> Int { try execute(sql: sql, arguments: []) }

    /// The rows of a query without arguments.
    package func fetchAll(sql: String) throws -> [SQLRow] { try fetchAll(sql: sql, arguments: []) }

    /// The first row of a query, or nil when it has none.
    package func fetchOne(sql: String, arguments: SQLArguments = []) throws -> SQLRow? {
        try fetchAll(sql: sql, arguments: arguments).first
    }

    /// The first column of the first row, or nil when there is no row or the value is NULL.
    /// - Throws: `CofferError` `tamperDetected` when the value is not a `T`.
    package func fetchOne<T: DatabaseValueConvertible>(_ type: T.Type, sql: String, arguments: SQLArguments = []) throws -> T? {
        guard let row = try fetchOne(sql: sql, arguments: arguments) else { return nil }
        return try row.storedIfPresent(at: 0, in: "query", as: T.self)
    }

    /// The first column of every row (rows whose value is NULL are left out).
    /// - Throws: `CofferError` `tamperDetected` when a value is not a `T`.
    package func fetchAll<T: DatabaseValueConvertible>(_ type: T.Type, sql: String, arguments: SQLArguments = []) throws -> [T] {
        try fetchAll(sql: sql, arguments: arguments).compactMap { try $0.storedIfPresent(at: 0, in: "query", as: T.self) }
    }
}

/// The values bound to a statement's `?` placeholders, in order.
package struct SQLArguments: Sendable, ExpressibleByArrayLiteral {
    /// The values, as SQLite types them (NULL, integer, real, text, blob).
    package private(set) var values: [DatabaseValue]

    package init(arrayLiteral elements: (any DatabaseValueConvertible)?...) {
        values = elements.map { $0?.databaseValue ?? .null }
    }

    package init(_ elements: some Sequence<(any DatabaseValueConvertible)?>) {
        values = elements.map { $0?.databaseValue ?? .null }
    }

    package init(_ elements: some Sequence<some DatabaseValueConvertible>) {
        values = elements.map { $0.databaseValue }
    }

    package static func += (lhs: inout SQLArguments, rhs: SQLArguments) {
        lhs.values += rhs.values
    }

    package static func + (lhs: SQLArguments, rhs: SQLArguments) -> SQLArguments {
        var sum = lhs
        sum += rhs
        return sum
    }
}
