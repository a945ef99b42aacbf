import CofferCrypto
import CofferSQL
import Foundation
import GRDB
import Logging
import PostgresNIO

/// A store database on PostgreSQL, for the stores' synchronous code on Coffer's blocking threads
/// (each statement is one round trip, waited for on the calling thread; the connection's work
/// runs on NIO's event loops, never on the cooperative pool).
///
/// Transactions mean what they mean on SQLite (`SQLDatabase`): a read is `REPEATABLE READ READ
/// ONLY`, one snapshot; a write is `READ COMMITTED` after `pg_advisory_xact_lock(writerLock)`,
/// so writers run one at a time across every instance sharing the database and each statement
/// sees everything committed before it, as SQLite's single writer does.
public struct PostgresSQLDatabase: SQLDatabase {
    /// The pool it leases connections from.
    public let pool: PostgresPool
    /// The advisory lock every write transaction takes first (scoped to the schema, `AdvisoryLockKey`).
    public let writerLock: Int64

    /// - Parameters:
    ///   - pool: The database.
    ///   - writerLock: The advisory lock key of this database's writers, one per set of tables
    ///     (scoped to the connection's schema, so two vaults in two schemas never share one).
    public init(_ pool: PostgresPool, writerLock: Int64) {
        self.pool = pool
        self.writerLock = writerLock
    }

    package var engine: SQLEngine { .postgres }

    package func close() {
        pool.close()
    }

    package func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", lock: nil, body)
    }

    package func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive { try self.read(body) }
    }

    @discardableResult
    package func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try transaction(begin: "BEGIN", lock: writerLock, body)
    }

    @discardableResult
    package func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive { try self.write(body) }
    }

    @discardableResult
    package func writeDeferringDurability<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await write { session in
            try session.execute(sql: "SET LOCAL synchronous_commit = off", arguments: [])
            return try body(session)
        }
    }

    /// Runs `body` while this process holds session-level advisory lock `key` of this database's
    /// schema (`AdvisoryLockKey`), or returns nil at once when another holds it: one instance at
    /// a time does the work. The lock lives on a
    /// connection leased for the duration, so an instance that dies releases it with its
    /// connection (the fencing is the server's).
    public func whileHolding<T>(_ key: Int64, _ body: () throws -> T) throws -> T? {
        let connection = try pool.leaseSynchronously()
        let session = PostgresSession(connection, pool: pool)
        var reusable = false
        defer { pool.connections.release(connection, reusable: reusable) }
        guard try session.fetchOne(Bool.self, sql: "SELECT pg_try_advisory_lock(\(AdvisoryLockKey.atQuestionMark))", arguments: [key]) == true else {
            reusable = true
            return nil
        }
        do {
            let result = try body()
            reusable = (try? session.execute(sql: "SELECT pg_advisory_unlock(\(AdvisoryLockKey.atQuestionMark))", arguments: [key])) != nil
            return result
        } catch {
            reusable = (try? session.execute(sql: "SELECT pg_advisory_unlock(\(AdvisoryLockKey.atQuestionMark))", arguments: [key])) != nil
            throw error
        }
    }

    private func transaction<T>(begin: String, lock: Int64?, _ body: (any SQLSession) throws -> T) throws -> T {
        let connection = try pool.leaseSynchronously()
        let session = PostgresSession(connection, pool: pool)
        var reusable = false
        defer { pool.connections.release(connection, reusable: reusable) }
        try session.execute(sql: begin)
        do {
            if let lock { try session.execute(sql: "SELECT pg_advisory_xact_lock(\(AdvisoryLockKey.atQuestionMark))", arguments: [lock]) }
            let result = try body(session)
            try session.execute(sql: "COMMIT")
            reusable = true
            return result
        } catch {
            // A connection whose rollback failed is in an unknown state: it is closed, not reused.
            reusable = (try? session.execute(sql: "ROLLBACK")) != nil
            throw error
        }
    }
}

/// One leased connection inside a transaction.
final class PostgresSession: SQLSession {
    let connection: PostgresConnection
    let pool: PostgresPool
    /// Cursors declared so far in this transaction (each gets a name of its own).
    private var cursors = 0

    init(_ connection: PostgresConnection, pool: PostgresPool) {
        self.connection = connection
        self.pool = pool
    }

    var engine: SQLEngine { .postgres }

    @discardableResult
    func execute(sql: String, arguments: SQLArguments) throws -> Int {
        try run(sql, arguments).metadata.rows ?? 0
    }

    func fetchAll(sql: String, arguments: SQLArguments) throws -> [SQLRow] {
        let result = try run(sql, arguments)
        guard let first = result.rows.first else { return [] }
        let columns = SQLColumns(first.map(\.columnName))
        return try result.rows.map { row in SQLRow(columns: columns, values: try row.map(PostgresValues.value)) }
    }

    func cursor(sql: String, arguments: SQLArguments) throws -> any SQLCursor {
        cursors += 1
        let name = "coffer_cursor_\(cursors)"
        try execute(sql: "DECLARE \(name) NO SCROLL CURSOR FOR " + sql, arguments: arguments)
        return PostgresCursor(session: self, name: name)
    }

    private func run(_ sql: String, _ arguments: SQLArguments) throws -> PostgresQueryResult {
        var bindings = PostgresBindings(capacity: arguments.values.count)
        for value in arguments.values { PostgresValues.bind(value, into: &bindings) }
        let query = PostgresQuery(unsafeSQL: SQLPlaceholders.numbered(sql), binds: bindings)
        do {
            return try connection.query(query, logger: PostgresPool.quiet).wait()
        } catch {
            // The statement is constant text of Coffer's (values are bound, never in it), so
            // naming it says where the failure was without saying anything stored.
            guard let translated = pool.translate(error) as? CofferError else { throw error }
            let statement = sql.split(whereSeparator: \.isWhitespace).joined(separator: " ").prefix(120)
            throw CofferError(translated.code, "\(translated.message) [in: \(statement)]")
        }
    }
}

/// A server-side cursor, fetched 1,000 rows at a time. It ends with its transaction.
final class PostgresCursor: SQLCursor {
    private let session: PostgresSession
    private let fetch: String
    private var batch: [SQLRow] = []
    private var position = 0
    private var exhausted = false
    static let batchSize = 1000

    init(session: PostgresSession, name: String) {
        self.session = session
        fetch = "FETCH FORWARD \(Self.batchSize) FROM \(name)"
    }

    func next() throws -> SQLRow? {
        if position == batch.count {
            guard !exhausted else { return nil }
            batch = try session.fetchAll(sql: fetch, arguments: [])
            position = 0
            exhausted = batch.count < Self.batchSize
            guard !batch.isEmpty else { return nil }
        }
        defer { position += 1 }
        return batch[position]
    }
}

/// SQLite's value types on the wire and back: integers as `int8`, reals as `float8`, text as
/// `text`, blobs as `bytea`; results of the integer, boolean, real, text and `bytea` types.
enum PostgresValues {
    static func bind(_ value: DatabaseValue, into bindings: inout PostgresBindings) {
        switch value.storage {
        case .null: bindings.appendNull()
        case .int64(let integer): bindings.append(integer)
        case .double(let real): bindings.append(real)
        case .string(let text): bindings.append(text)
        case .blob(let data): bindings.append(ByteBuffer(bytes: data))
        }
    }

    static func value(_ cell: PostgresCell) throws -> DatabaseValue {
        guard var bytes = cell.bytes else { return .null }
        do {
            switch cell.dataType {
            case .int2, .int4, .int8: return try cell.decode(Int64.self).databaseValue
            case .bool: return (try cell.decode(Bool.self) ? 1 : 0).databaseValue
            case .float4, .float8: return try cell.decode(Double.self).databaseValue
            case .text, .varchar, .name, .bpchar: return try cell.decode(String.self).databaseValue
            case .bytea: return Data(bytes.readBytes(length: bytes.readableBytes) ?? []).databaseValue
            default:
                throw CofferError(.storage, "column \(cell.columnName) has PostgreSQL type \(cell.dataType), which Coffer's stores do not read (cast it)")
            }
        } catch let error as CofferError {
            throw error
        } catch {
            throw CofferError(.storage, "column \(cell.columnName) could not be read as \(cell.dataType)")
        }
    }
}
