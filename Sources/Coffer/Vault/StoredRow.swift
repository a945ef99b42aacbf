import CofferCrypto
import Foundation
import GRDB

/// Reading columns of rows Coffer wrote, without trusting them: a vault file can be edited
/// outside Coffer, and GRDB's non-optional subscripts (`row["x"] as String`) stop the process on
/// a NULL or a value of the wrong type. These accessors throw `CofferError` `tamperDetected`
/// instead, naming the table and column (never the value).
extension Row {
    /// The value of `column`, which Coffer never leaves NULL.
    /// - Parameters:
    ///   - column: The column name.
    ///   - table: The table, for the error message.
    /// - Returns: The value.
    /// - Throws: `CofferError` `tamperDetected` when the column is missing, NULL or holds
    ///   another type.
    func stored<T: DatabaseValueConvertible>(_ column: String, in table: String, as type: T.Type = T.self) throws -> T {
        do {
            return try decode(T.self, forColumn: column)
        } catch {
            throw Self.tampered(column, table)
        }
    }

    /// The value of `column`, which may be NULL.
    /// - Throws: `CofferError` `tamperDetected` when the column is missing or holds another type.
    func storedIfPresent<T: DatabaseValueConvertible>(_ column: String, in table: String, as type: T.Type = T.self) throws -> T? {
        do {
            return try decode(T?.self, forColumn: column)
        } catch {
            throw Self.tampered(column, table)
        }
    }

    /// The value at `index`, which Coffer never leaves NULL.
    /// - Throws: `CofferError` `tamperDetected` when the value is NULL or holds another type.
    func stored<T: DatabaseValueConvertible>(at index: Int, in table: String, as type: T.Type = T.self) throws -> T {
        guard index < count else { throw Self.tampered("#\(index)", table) }
        do {
            return try decode(T.self, atIndex: index)
        } catch {
            throw Self.tampered("#\(index)", table)
        }
    }

    /// The bytes of a BLOB column, which Coffer never leaves NULL.
    /// - Throws: `CofferError` `tamperDetected` when the column is missing, NULL or not a blob.
    func storedBytes(_ column: String, in table: String) throws -> [UInt8] {
        [UInt8](try stored(column, in: table, as: Data.self))
    }

    private static func tampered(_ column: String, _ table: String) -> CofferError {
        CofferError(.tamperDetected,
                    "a \(table) row has a NULL or malformed \(column): the vault file was changed outside Coffer; restore it from a backup")
    }
}
