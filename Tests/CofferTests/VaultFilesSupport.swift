@testable import Coffer
import GRDB

/// The SQLite files of an embedded test vault, for tests that read or edit them directly.
extension Vault {
    var control: DatabasePool { storage.files!.control }
    var content: DatabasePool { storage.files!.content }
    var pii: DatabasePool { storage.files!.pii }
}
