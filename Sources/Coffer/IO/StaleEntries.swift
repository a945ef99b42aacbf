import Foundation

/// Entries a crash left in a directory: the half-built backups and restore stagings that no run
/// finished or removed.
enum StaleEntries {
    /// How long an entry is left alone: a run still building it changed it more recently.
    static let age: TimeInterval = 3600

    /// Removes the entries of `directory` whose names start with `prefix` and that were last
    /// modified more than ``age`` ago. Tidying only: an entry that cannot be read or removed is
    /// left where it is.
    static func remove(prefix: String, in directory: URL) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        let cutoff = Date().addingTimeInterval(-age)
        for name in names where name.hasPrefix(prefix) {
            let url = directory.appendingPathComponent(name)
            if let modified = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date, modified < cutoff {
                try? FileManager.default.removeItem(at: url)
            }
        }
    }
}
