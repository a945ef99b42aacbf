@testable import Coffer
import CofferSQL
import CofferScaleOutTestSupport
import GRDB
import Testing

/// The databases of a test vault, on whichever engine it runs (`COFFER_TEST_ENGINE`), for tests
/// that read or edit rows directly.
extension Vault {
    var control: any SQLDatabase { storage.control }
    var content: any SQLDatabase { storage.content }
    var pii: any SQLDatabase { storage.pii }

    /// The SQLite files of an embedded vault, for the tests about the files themselves (WAL
    /// checkpoints, pages); nil on PostgreSQL.
    var files: VaultStorage.SQLiteFiles? { storage.files }
}

/// GRDB's `Int.fetchOne(db, sql:)` spelling for both engines' sessions, so a test's row checks read
/// the same on SQLite and PostgreSQL.
extension DatabaseValueConvertible {
    static func fetchOne(_ db: any SQLSession, sql: String, arguments: SQLArguments = []) throws -> Self? {
        try db.fetchOne(Self.self, sql: sql, arguments: arguments)
    }

    static func fetchAll(_ db: any SQLSession, sql: String, arguments: SQLArguments = []) throws -> [Self] {
        try db.fetchAll(Self.self, sql: sql, arguments: arguments)
    }
}

extension Trait where Self == ConditionTrait {
    /// For a test about the embedded engine's files (scanning, editing or checkpointing them), which
    /// has nothing to look at when the suites run on PostgreSQL + S3; the scale-out suites check the
    /// same promise on that engine's tables and objects.
    static var embeddedFilesOnly: Self {
        .enabled(if: !ScaleOutTestServers.engineIsScaleOut, "about the embedded engine's SQLite files")
    }

    /// For a test that reads or edits the embedded engine's `segment` rows; on PostgreSQL + S3
    /// segments are S3 objects, and S3SegmentStoreTests and ScaleOutVaultTests cover them.
    static var segmentRowsOnly: Self {
        .enabled(if: !ScaleOutTestServers.engineIsScaleOut, "about the embedded engine's segment rows")
    }

    /// For a test that stores a value of the wrong type in a column: PostgreSQL's typed columns
    /// refuse the edit itself, so the tampering it reads back cannot happen there.
    static var untypedColumnsOnly: Self {
        .enabled(if: !ScaleOutTestServers.engineIsScaleOut, "an edit that PostgreSQL's column types refuse")
    }
}
