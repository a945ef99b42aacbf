import CofferCrypto
import Foundation
import GRDB
import Logging

// What the benchmark target (CofferBench, used by `coffer bench`) reaches inside a vault.
// Everything here is `package`: visible to the targets of this package, never to a backend.
extension Vault {
    /// Opens an existing vault with a keyring held in memory, with its access log on or off.
    ///
    /// `auditing: false` exists only for the benchmark that measures what the log costs, on a
    /// scratch vault (the same directory opened twice, once audited and once not); nothing else
    /// turns the log off.
    /// - Parameters:
    ///   - directory: The vault directory.
    ///   - keyring: The vault's keyring (a development keyring is refused).
    ///   - logger: Where Coffer logs.
    ///   - auditing: Whether accesses are decided and recorded as usual (`true`) or not recorded.
    /// - Returns: The open vault.
    /// - Throws: What ``Vault/open(at:keyring:allowDevelopmentKeyring:logger:)`` throws.
    package static func open(at directory: URL, keyring: Keyring, logger: Logger, auditing: Bool) throws -> Vault {
        try open(at: directory, keyring: keyring, source: .memory, allowDevelopmentKeyring: false,
                 logger: logger, auditing: auditing)
    }

    /// `content.sqlite`, for the benchmark's unencrypted yardstick, which writes plaintext rows
    /// into the same schema of a scratch vault.
    package var contentDatabase: DatabasePool {
        get throws {
            guard let files = storage.files else { throw CofferError(.invalidArgument, "the store benchmark's yardstick needs an embedded (SQLite) vault") }
            return files.content
        }
    }

    /// The access log's group committer, for the benchmark's append-rate measurements.
    package var auditAppender: AuditAppender { accessLog.appender }
}
