import Foundation
import Testing
@testable import Coffer

// What a crash left behind: half-built backups and restore stagings older than an hour go,
// younger ones (a run may still be building them) and other names stay.

@Suite("Stale entries")
struct StaleEntriesTests {
    @Test("backup partials and restore stagings older than an hour are removed; newer ones and other names stay")
    func removesOnlyOldPrefixed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-stale-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let old = Date().addingTimeInterval(-2 * StaleEntries.age)
        let vault = dir.appendingPathComponent("vault")
        let entries: [(name: String, modified: Date?, stays: Bool)] = [
            (BackupFiles.partialPrefix + "a", old, false),
            (BackupFiles.partialPrefix + "b", nil, true),
            ("vault" + RestoreStaging.suffix + "0badcafe", old, false),
            ("vault" + RestoreStaging.suffix + "00c0ffee", nil, true),
            ("other" + RestoreStaging.suffix + "0badcafe", old, true),
            ("backup-20260101T000000Z-00000000", old, true),
        ]
        for entry in entries {
            let url = dir.appendingPathComponent(entry.name)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            try Data([1]).write(to: url.appendingPathComponent("file"))
            if let modified = entry.modified { try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: url.path) }
        }
        BackupFiles.removeStalePartials(in: dir)
        RestoreStaging.removeStale(near: vault)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        #expect(left == Set(entries.filter(\.stays).map(\.name)))
        StaleEntries.remove(prefix: "x", in: dir.appendingPathComponent("missing"))  // a directory that is not there: nothing to do
    }
}
