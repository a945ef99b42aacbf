import ArgumentParser
import Coffer
import CofferBench
import CofferCrypto
import Foundation

extension BenchCommand {
    struct ScaleOut: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scale-out",
            abstract: "Large-object put and get throughput through a vault on PostgreSQL + S3 (scripts/bench-scale-out.sh sets boto3 beside it).")

        @OptionGroup var vault: VaultOptions
        @Option(name: .long, help: "Bytes of the object.") var size: Int = 256 * 1024 * 1024
        @Option(name: .long, help: "Timed repetitions (after one untimed).") var repetitions: Int = 3
        @Flag(name: .long, help: "Print JSON.") var json = false

        func validate() throws {
            try checkBenchSize(size)
            guard (1...100).contains(repetitions) else { throw ValidationError("--repetitions must be between 1 and 100") }
        }

        func run() async throws {
            try await runReportingErrors {
                guard vault.location.isScaleOut else {
                    throw CofferError(.invalidArgument, "bench scale-out needs a PostgreSQL vault (--vault postgres://...); `coffer bench store` measures the embedded engine")
                }
                let opened = try await vault.openVault()
                let report = try await VaultThroughputBenchmark.run(opened, size: size, repetitions: repetitions,
                                                                    context: try vault.context(defaultPurpose: .serviceOperation),
                                                                    admin: try vault.context(defaultPurpose: .administration))
                if json { print(try jsonText(report)); return }
                print("object \(report.size) B, median of \(report.repetitions)")
                print(String(format: "put %8.1f MB/s", report.putBytesPerSecond / 1e6))
                print(String(format: "get %8.1f MB/s", report.getBytesPerSecond / 1e6))
            }
        }
    }
}
