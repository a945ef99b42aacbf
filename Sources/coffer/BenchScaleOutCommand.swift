import ArgumentParser
import Coffer
import CofferBench
import CofferCrypto
import CofferPostgres
import Foundation
import Logging
import PostgresNIO

extension BenchCommand {
    struct ScaleOut: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scale-out",
            abstract: "Put and get throughput through a vault on PostgreSQL + S3: a large object, and 4 KiB objects beside rows done directly (scripts/bench-scale-out.sh sets boto3 beside it).")

        @OptionGroup var vault: VaultOptions
        @Option(name: .long, help: "Bytes of the object.") var size: Int = 256 * 1024 * 1024
        @Option(name: .long, help: "Timed repetitions (after one untimed).") var repetitions: Int = 3
        @Option(name: .long, help: "4 KiB puts and gets per concurrency (0: none), and as many rows inserted and read directly.")
        var small: Int = 0
        @Option(name: .customLong("small-concurrency"), help: "Comma-separated numbers of concurrent callers for --small.")
        var smallConcurrency: String = "1,16"
        @Flag(name: .long, help: "Print JSON.") var json = false

        /// The callers of `--small-concurrency`: 1 to 8 numbers, each 1 to 64.
        func callers() throws -> [Int] {
            try numberList(smallConcurrency, option: "--small-concurrency", what: "numbers", range: 1...64)
        }

        func validate() throws {
            try checkBenchSize(size)
            guard (1...100).contains(repetitions) else { throw ValidationError("--repetitions must be between 1 and 100") }
            guard (0...100_000).contains(small) else { throw ValidationError("--small must be between 0 and 100000") }
            _ = try callers()
        }

        /// What `--json` prints.
        struct Output: Encodable {
            let large: VaultThroughputBenchmark.Report
            /// Coffer's 4 KiB puts and gets, with the log.
            let small: [SmallObjectBenchmark.Measurement]
            /// The same number of rows inserted and read by primary key directly, in the vault's database.
            let rows: [SmallObjectBenchmark.Measurement]
        }

        func run() async throws {
            try await runReportingErrors {
                guard vault.location.isScaleOut else {
                    throw CofferError(.invalidArgument, "bench scale-out needs a PostgreSQL vault (--vault postgres://...); `coffer bench store` measures the embedded engine")
                }
                let opened = try await vault.openVault()
                let context = try vault.context(defaultPurpose: .serviceOperation)
                let admin = try vault.context(defaultPurpose: .administration)
                let report = try await VaultThroughputBenchmark.run(opened, size: size, repetitions: repetitions, context: context, admin: admin)
                var small: [SmallObjectBenchmark.Measurement] = []
                var rows: [SmallObjectBenchmark.Measurement] = []
                if self.small > 0 {
                    small = try await VaultSmallObjectBenchmark.run(opened, operations: self.small, callers: try callers(), context: context, admin: admin)
                    rows = try await directRows(try vault.location.scaleOutConfiguration().database)
                }
                if json { print(try jsonText(Output(large: report, small: small, rows: rows))); return }
                print("object \(report.size) B, median of \(report.repetitions)")
                print(String(format: "put %8.1f MB/s", report.putBytesPerSecond / 1e6))
                print(String(format: "get %8.1f MB/s", report.getBytesPerSecond / 1e6))
                for m in small + rows {
                    print(String(format: "%-8@ %3d callers %9.0f ops/s  p50 %7.0f µs  p99 %7.0f µs", m.operation as NSString, m.callers,
                                 m.operationsPerSecond, m.p50Microseconds, m.p99Microseconds))
                }
            }
        }

        /// `--small` rows of a catalog's size (tenant, name, object key, size) inserted one per
        /// transaction and read back by primary key, in a scratch table of the vault's database
        /// (dropped afterwards): the row half of a 4 KiB put and get done directly.
        private func directRows(_ address: PostgresAddress) async throws -> [SmallObjectBenchmark.Measurement] {
            let callers = try callers()
            let pool = try await PostgresPool.open(address, maximumConnections: callers.max() ?? 1)
            defer { pool.close() }
            let table = "coffer_bench_rows_" + Hex.lower(try SecureRandom.bytes(6))
            let logger = Logger(label: "coffer.bench")
            try await pool.withConnection { c in
                _ = try await c.query(PostgresQuery(unsafeSQL: "CREATE TABLE \(table) (id BIGINT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, object_key TEXT NOT NULL, size BIGINT NOT NULL)"),
                                      logger: logger)
            }
            do {
                var measurements: [SmallObjectBenchmark.Measurement] = []
                for (round, count) in callers.enumerated() {
                    let base = Int64(round) * Int64(small)
                    measurements += try await VaultSmallObjectBenchmark.direct(operations: small, callers: count, insert: { i in
                        let id = base + Int64(i)
                        let query: PostgresQuery = """
                            INSERT INTO \(unescaped: table) (id, tenant, name, object_key, size) VALUES (\(id), 'bench', \("small-\(id)"), \("segments/\(id)"), 4096)
                            """
                        _ = try await pool.withConnection { c in try await c.query(query, logger: logger) }
                    }, select: { i in
                        let query: PostgresQuery = "SELECT tenant, name, object_key, size FROM \(unescaped: table) WHERE id = \(base + Int64(i))"
                        let found = try await pool.withConnection { c in
                            var n = 0
                            for try await _ in try await c.query(query, logger: logger) { n += 1 }
                            return n
                        }
                        guard found == 1 else { throw CofferError(.notFound, "benchmark row \(base + Int64(i)) is missing") }
                    })
                }
                try await dropTable(table, pool, logger)
                return measurements
            } catch {
                try? await dropTable(table, pool, logger)
                throw error
            }
        }

        private func dropTable(_ table: String, _ pool: PostgresPool, _ logger: Logger) async throws {
            try await pool.withConnection { c in _ = try await c.query(PostgresQuery(unsafeSQL: "DROP TABLE \(table)"), logger: logger) }
        }
    }
}
