import CofferCrypto
import Foundation

/// The access history of an export: the log's records about one subject or one tenant, oldest
/// first, as `access-history.json` (an array, one record per line) and `access-history.csv`
/// (``AuditExport``'s columns).
///
/// A tenant's history can run to millions of records, so it is never held whole. The archive
/// needs each file's size before its bytes, so the history is read three times, a page of
/// 10,000 records at a time through ``Vault/auditRecords(_:context:)`` (each page a recorded
/// read of the log): once to size both files and fix the page boundaries, then once per file.
/// Records added meanwhile lie past the first page's bound and are left out; records pruned
/// meanwhile change a file's size, which ends the export with `io` ("run the export again").
struct ExportHistory {
    let vault: Vault
    let context: AccessContext
    /// The records wanted (a tenant or a subject); paging is set here.
    let query: AuditQuery
    /// Records per page (the log's largest query; tests use fewer).
    var pageSize = 10_000

    /// What the first reading found.
    struct Plan {
        /// Page `k` is the newest `pageSize` records below `cursors[k]`, newest page first.
        var cursors: [Int64] = []
        var records = 0
        var jsonBytes: Int64 = 3  // "[\n" ... "\n]\n", or "[]\n"
        var csvBytes = Int64(AuditExport.csvHeader.utf8.count + 1)
    }

    /// Reads the history once to size its files.
    func plan() async throws -> Plan {
        var plan = Plan()
        var before: Int64?
        while true {
            let records = try await page(before: before)
            guard let newest = records.first, let oldest = records.last else { break }
            plan.cursors.append(before ?? newest.sequence + 1)
            for record in records {
                plan.jsonBytes += Int64(try AuditExport.jsonLine(record).utf8.count + 2)
                plan.csvBytes += Int64(AuditExport.csvLine(record).utf8.count + 1)
            }
            plan.records += records.count
            guard records.count == pageSize else { break }
            before = oldest.sequence
        }
        return plan
    }

    /// Writes `access-history.json`, page by page, oldest first.
    func writeJSON(_ plan: Plan, to sink: ExportFileSink) async throws {
        var first = true
        for cursor in plan.cursors.reversed() {
            var text = ""
            for record in try await page(before: cursor).reversed() {
                text += (first ? "[\n" : ",\n") + (try AuditExport.jsonLine(record))
                first = false
            }
            try await sink.send(Array(text.utf8))
        }
        try await sink.send(Array((first ? "[]\n" : "\n]\n").utf8))
    }

    /// Writes `access-history.csv`, page by page, oldest first.
    func writeCSV(_ plan: Plan, to sink: ExportFileSink) async throws {
        try await sink.send(Array((AuditExport.csvHeader + "\n").utf8))
        for cursor in plan.cursors.reversed() {
            let text = try await page(before: cursor).reversed().map { AuditExport.csvLine($0) + "\n" }.joined()
            try await sink.send(Array(text.utf8))
        }
    }

    /// One page, newest first: a recorded read of the log.
    private func page(before: Int64?) async throws -> [AuditRecord] {
        var query = self.query
        query.before = before
        query.limit = pageSize
        return try await vault.auditRecords(query, context: context)
    }
}
