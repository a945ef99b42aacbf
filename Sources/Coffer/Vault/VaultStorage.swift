import CofferSQL
import Foundation
import GRDB

/// Where a vault's data lives, behind the stores' interfaces: three databases (control data, the
/// content catalog, PII; the access log has its own, in ``AuditLog``) and the segments' store.
/// The embedded default is a directory of SQLite files; the scale-out engine (`CofferScaleOut`)
/// puts the databases on PostgreSQL and the segments in S3-compatible object storage.
package struct VaultStorage: Sendable {
    /// The SQLite files of an embedded vault, for what only files have (WAL truncation, backups).
    package struct SQLiteFiles: Sendable {
        package let control: DatabasePool
        package let content: DatabasePool
        package let pii: DatabasePool
    }

    /// Tenants, wrapped keys, principals, grants, lifecycle, the vault's bookkeeping.
    package let control: any SQLDatabase
    /// Objects and versions.
    package let content: any SQLDatabase
    /// Data subjects, apart from content (P2).
    package let pii: any SQLDatabase
    /// The segments of every version.
    package let segments: any SegmentStore
    /// The files, on the embedded engine (nil on another).
    package let files: SQLiteFiles?
    /// Where puts in progress keep their lock files.
    package let writersDirectory: URL
    /// False when another process may be writing a pending version this process cannot see
    /// (a shared database): leftovers are then collected by heartbeat, not by lock file.
    package let writerLocksAreShared: Bool
    /// The engine's own background work (collecting abandoned writes and released segments),
    /// run by each maintenance pass.
    package let collect: (@Sendable () throws -> Void)?
    /// The object-store locations tenants can be pinned to (none on the embedded engine).
    package let locations: Set<String>
    /// The group committer of `content.sqlite` (embedded engine only).
    package let contentCommits: SQLiteCommitQueue?

    /// An embedded vault's files.
    init(_ files: SQLiteFiles, writersDirectory: URL) {
        control = SQLiteDatabase(files.control)
        // One group committer for the catalog's async writes and the puts' commits.
        let commits = SQLiteCommitQueue(pool: files.content, name: "coffer.content-commit")
        content = SQLiteDatabase(files.content, commits: commits)
        pii = SQLiteDatabase(files.pii)
        segments = SQLiteSegmentStore(pool: files.content, commits: commits)
        contentCommits = commits
        self.files = files
        self.writersDirectory = writersDirectory
        writerLocksAreShared = true
        collect = nil
        locations = []
    }

    /// Another engine's databases and segment store; `writersDirectory` is local to this process.
    package init(control: any SQLDatabase, content: any SQLDatabase, pii: any SQLDatabase, segments: any SegmentStore, writersDirectory: URL,
                 locations: Set<String>, collect: @escaping @Sendable () throws -> Void) {
        self.collect = collect
        self.locations = locations
        self.control = control
        self.content = content
        self.pii = pii
        self.segments = segments
        files = nil
        contentCommits = nil
        self.writersDirectory = writersDirectory
        writerLocksAreShared = false
    }

    /// Closes the databases.
    func close() {
        content.close()
        pii.close()
        control.close()
    }
}
