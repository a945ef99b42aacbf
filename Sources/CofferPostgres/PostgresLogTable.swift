import CofferCrypto
import Foundation
import PostgresNIO

/// The append-only, gap-free record table of an access log on PostgreSQL, shared by every
/// instance: each append takes the log's state row `FOR UPDATE` (its size and chain head), writes
/// its records at the next positions and moves the state on, in one transaction. A `SEQUENCE` is
/// never used: a rolled-back `nextval` leaves a hole that looks like a deleted record. A
/// transaction that rolls back leaves no trace; one that commits makes its records visible with
/// the new size at once, so readers see a prefix of the log and never a gap.
///
/// What a record is and how the chain moves on is the caller's (`chain`): this type knows the
/// positions and the locking, the access log its format.
public struct PostgresLogTable: Sendable {
    /// The migrations of the log's tables (in the content role's database).
    public static let migrations: [PostgresMigrator.Migration] = [
        .init("log-v1", [
            "CREATE TABLE log_state (id INT PRIMARY KEY CHECK (id = 1), size BIGINT NOT NULL, head BYTEA NOT NULL)",
            "INSERT INTO log_state (id, size, head) VALUES (1, 0, '\\x')",
            "CREATE TABLE log_record (seq BIGINT PRIMARY KEY, body BYTEA NOT NULL, chain BYTEA NOT NULL)",
        ]),
    ]

    let database: PostgresPool

    public init(_ database: PostgresPool) { self.database = database }

    /// Appends `bodies` as one batch (a group commit) after the log's current end.
    /// - Parameters:
    ///   - bodies: The encoded records, in order.
    ///   - chain: The chain value of a record from the previous one's (the head) and its body.
    /// - Returns: The position of the first record written and the new head.
    /// - Throws: `CofferError` `storage` or `accessDenied`; then nothing was written.
    public func append(_ bodies: [[UInt8]], chain: @escaping @Sendable (_ head: [UInt8], _ body: [UInt8]) throws -> [UInt8]) async throws
        -> (first: Int64, head: [UInt8]) {
        try await database.withTransaction { connection in
            let rows = try await connection.query("SELECT size, head FROM log_state WHERE id = 1 FOR UPDATE", logger: PostgresPool.quiet)
            var state: (Int64, [UInt8])?
            for try await (size, head) in rows.decode((Int64, ByteBuffer).self) { state = (size, Array(head.readableBytesView)) }
            guard var (size, head) = state else { throw CofferError(.tamperDetected, "the access log's state row is missing") }
            let first = size
            for body in bodies {
                head = try chain(head, body)
                try await connection.query("INSERT INTO log_record (seq, body, chain) VALUES (\(size), \(ByteBuffer(bytes: body)), \(ByteBuffer(bytes: head)))",
                                           logger: PostgresPool.quiet)
                size += 1
            }
            try await connection.query("UPDATE log_state SET size = \(size), head = \(ByteBuffer(bytes: head)) WHERE id = 1", logger: PostgresPool.quiet)
            return (first, head)
        }
    }

    /// The log's size and head.
    public func state() async throws -> (size: Int64, head: [UInt8]) {
        try await database.withConnection { connection in
            for try await (size, head) in try await connection.query("SELECT size, head FROM log_state WHERE id = 1", logger: PostgresPool.quiet)
                .decode((Int64, ByteBuffer).self) {
                return (size, Array(head.readableBytesView))
            }
            throw CofferError(.tamperDetected, "the access log's state row is missing")
        }
    }

    /// Records `from..<to` (bodies and chain values), in order.
    public func records(from: Int64, to: Int64) async throws -> [(seq: Int64, body: [UInt8], chain: [UInt8])] {
        try await database.withConnection { connection in
            var records: [(seq: Int64, body: [UInt8], chain: [UInt8])] = []
            let rows = try await connection.query("SELECT seq, body, chain FROM log_record WHERE seq >= \(from) AND seq < \(to) ORDER BY seq",
                                                  logger: PostgresPool.quiet)
            for try await (seq, body, chain) in rows.decode((Int64, ByteBuffer, ByteBuffer).self) {
                records.append((seq, Array(body.readableBytesView), Array(chain.readableBytesView)))
            }
            return records
        }
    }
}
