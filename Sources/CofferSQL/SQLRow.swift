import CofferCrypto
import Foundation
import GRDB

/// A row a query returned, on either engine, read without trusting it: a database can be edited
/// outside Coffer, so a NULL or a value of the wrong type throws `CofferError` `tamperDetected`
/// naming the table and column (never the value), where a force-cast would stop the process.
package struct SQLRow: Sendable {
    /// The column names, shared by every row of one result.
    package let columns: SQLColumns
    /// The values, in column order.
    package let values: [DatabaseValue]

    package init(columns: SQLColumns, values: [DatabaseValue]) {
        self.columns = columns
        self.values = values
    }

    /// The value of `column`, which Coffer never leaves NULL.
    /// - Throws: `CofferError` `tamperDetected` when the column is missing, NULL or holds
    ///   another type.
    package func stored<T: DatabaseValueConvertible>(_ column: String, in table: String, as type: T.Type = T.self) throws -> T {
        guard let value = try storedIfPresent(column, in: table, as: T.self) else { throw Self.tampered(column, table) }
        return value
    }

    /// The value of `column`, which may be NULL.
    /// - Throws: `CofferError` `tamperDetected` when the column is missing or holds another type.
    package func storedIfPresent<T: DatabaseValueConvertible>(_ column: String, in table: String, as type: T.Type = T.self) throws -> T? {
        guard let index = columns.index(of: column) else { throw Self.tampered(column, table) }
        return try storedIfPresent(at: index, in: table, as: T.self)
    }

    /// The value at `index`, which Coffer never leaves NULL.
    /// - Throws: `CofferError` `tamperDetected` when the value is missing, NULL or holds another type.
    package func stored<T: DatabaseValueConvertible>(at index: Int, in table: String, as type: T.Type = T.self) throws -> T {
        guard let value = try storedIfPresent(at: index, in: table, as: T.self) else { throw Self.tampered("#\(index)", table) }
        return value
    }

    /// The value at `index`, which may be NULL.
    /// - Throws: `CofferError` `tamperDetected` when there is no such column or it holds another type.
    package func storedIfPresent<T: DatabaseValueConvertible>(at index: Int, in table: String, as type: T.Type = T.self) throws -> T? {
        guard values.indices.contains(index) else { throw Self.tampered("#\(index)", table) }
        let value = values[index]
        if value.isNull { return nil }
        guard let decoded = T.fromDatabaseValue(value) else { throw Self.tampered(columns.name(at: index), table) }
        return decoded
    }

    /// The bytes of a BLOB column, which Coffer never leaves NULL.
    /// - Throws: `CofferError` `tamperDetected` when the column is missing, NULL or not a blob.
    package func storedBytes(_ column: String, in table: String) throws -> [UInt8] {
        [UInt8](try stored(column, in: table, as: Data.self))
    }

    private static func tampered(_ column: String, _ table: String) -> CofferError {
        CofferError(.tamperDetected,
                    "a \(table) row has a NULL or malformed \(column): the vault's database was changed outside Coffer; restore it from a backup")
    }
}

/// The column names of one result, looked up by name as both engines spell them (PostgreSQL folds
/// unquoted names to lower case; a name is matched exactly first, then ignoring case).
package final class SQLColumns: Sendable {
    package let names: [String]

    package init(_ names: [String]) {
        self.names = names
    }

    /// The index of `name`, or nil.
    package func index(of name: String) -> Int? {
        if let exact = names.firstIndex(of: name) { return exact }
        return names.firstIndex { $0.caseInsensitiveCompare(name) == .orderedSame }
    }

    /// The name at `index`, for messages.
    package func name(at index: Int) -> String {
        names.indices.contains(index) ? names[index] : "#\(index)"
    }
}

extension SQLRow {
    /// A GRDB row as an `SQLRow` (its values copied).
    package init(_ row: Row) {
        self.init(columns: SQLColumns(Array(row.columnNames)), values: Array(row.databaseValues))
    }
}
