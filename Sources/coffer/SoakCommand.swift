import ArgumentParser
import Coffer
import CofferCrypto
import CofferObjectStore
import CofferScaleOut
import Foundation

extension BenchCommand {
    struct Soak: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Several processes on one PostgreSQL + S3 vault at once: puts, gets, deletes and PII reads for a while, one process killed mid-put; then every object, the log and the collector are checked.",
            discussion: """
                Spawns --processes copies of itself as workers (each its own instance of the vault, with actors of its own) \
                and one more that starts a large put and is killed with SIGKILL in the middle of it. When the workers are \
                done it checks that every object they left reads back byte for byte, that the access log verifies and holds \
                exactly one record per operation of each worker, that the killed put is not visible, and that the collector \
                (run with no grace period: nothing else may be writing to the vault) removes what it uploaded. Exits 1 when a \
                check fails.
                """)

        @OptionGroup var vault: VaultOptions
        @Option(name: .long, help: "Worker processes.") var processes: Int = 4
        @Option(name: .long, help: "How long the workers run, in seconds.") var seconds: Int = 60
        @Option(name: .long, help: "Seed of the workers' choices and contents.") var seed: UInt64 = 1
        @Flag(name: .long, help: "Print JSON.") var json = false
        @Option(name: .long, help: .hidden) var worker: Int?
        @Option(name: .long, help: .hidden) var report: String?
        @Flag(name: .long, help: .hidden) var victim = false

        func validate() throws {
            guard (1...64).contains(processes) else { throw ValidationError("--processes must be between 1 and 64") }
            guard (1...86_400).contains(seconds) else { throw ValidationError("--seconds must be between 1 and 86400") }
        }

        func run() async throws {
            try await runReportingErrors {
                guard vault.location.isScaleOut else {
                    throw CofferError(.invalidArgument, "bench soak needs a PostgreSQL vault (--vault postgres://...): it soaks a vault shared by several processes")
                }
                if let worker {
                    let opened = try await vault.openVault()
                    let result = try await ScaleOutSoak.runWorker(opened, worker: worker, duration: .seconds(seconds), seed: seed)
                    guard let report else { throw CofferError(.invalidArgument, "--worker needs --report") }
                    try jsonText(result).write(toFile: report, atomically: true, encoding: .utf8)
                } else if victim {
                    let opened = try await vault.openVault()
                    try await ScaleOutSoak.runVictim(opened) {
                        FileHandle.standardOutput.write(Data((ScaleOutSoak.victimStarted + "\n").utf8))
                    }
                } else {
                    try await orchestrate()
                }
            }
        }

        private func orchestrate() async throws {
            let setup = try await vault.openVault()
            try await ScaleOutSoak.prepare(setup, workers: processes, context: try vault.context(defaultPurpose: .administration))
            try setup.close()

            let reports = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-soak-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: reports, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            defer { try? FileManager.default.removeItem(at: reports) }
            let started = ContinuousClock.now
            var workers: [(Int, Process, URL)] = []
            for n in 0..<processes {
                let file = reports.appendingPathComponent("worker-\(n).json")
                workers.append((n, try spawn(["--worker", String(n), "--report", file.path], output: nil), file))
            }
            let killed = try await killVictimMidPut()
            var results: [ScaleOutSoak.WorkerReport] = []
            for (n, process, file) in workers {
                await waitForExit(process)
                guard process.terminationStatus == 0 else {
                    throw CofferError(.storage, "worker \(n) failed (exit \(process.terminationStatus)); its error is above")
                }
                results.append(try JSONDecoder().decode(ScaleOutSoak.WorkerReport.self, from: Data(contentsOf: file)))
            }
            let elapsed = ContinuousClock.now - started

            // Nothing else writes now: the collector may take the killed put's uploads at once.
            var configuration = try vault.location.scaleOutConfiguration()
            configuration.abandonedAfter = .zero
            configuration.collectionGrace = .zero
            let checker = try await Vault.open(configuration, keyringFile: try vault.location.keyringFile(),
                                               allowDevelopmentKeyring: vault.location.developmentKeyringAllowed)
            defer { try? checker.close() }
            let store = try S3ObjectStore(location: try requireLocation(configuration), credentials: configuration.credentials)
            let verdict = try await ScaleOutSoak.verify(checker, reports: results, objectStore: store)
            let summary = SoakSummary(processes: processes, seconds: seconds, elapsedSeconds: Double(elapsed.components.seconds)
                                        + Double(elapsed.components.attoseconds) / 1e18,
                                      victimKilled: killed, workers: results.map(SoakSummary.Worker.init), verdict: verdict)
            if json { print(try jsonText(summary)) } else { printSummary(summary) }
            guard verdict.ok else { throw CofferError(.storage, "the soak failed: " + verdict.problems.joined(separator: "; ")) }
        }

        /// Starts the victim, waits until its put is under way, kills it with SIGKILL.
        /// - Returns: True when it was killed mid-put (false: it ended by itself first).
        private func killVictimMidPut() async throws -> Bool {
            let pipe = Pipe()
            let process = try spawn(["--victim"], output: pipe)
            let line = await offThePool { readLine(pipe.fileHandleForReading) }
            guard line == ScaleOutSoak.victimStarted else {
                await waitForExit(process)
                throw CofferError(.storage, "the victim ended before its put was under way (exit \(process.terminationStatus))")
            }
            try await Task.sleep(for: .milliseconds(300))
            kill(process.processIdentifier, SIGKILL)
            await waitForExit(process)
            return process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
        }

        /// This program again with its own arguments and `extra`, standard error shared.
        private func spawn(_ extra: [String], output: Pipe?) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            process.arguments = Array(CommandLine.arguments.dropFirst()) + extra
            if let output { process.standardOutput = output }
            try process.run()
            return process
        }

        private func printSummary(_ s: SoakSummary) {
            print("\(s.processes) worker processes for \(s.seconds) s (\(String(format: "%.1f", s.elapsedSeconds)) s in all); victim killed mid-put: \(s.victimKilled)")
            for w in s.workers {
                let ops = w.operations.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                print("worker \(w.worker): \(w.records) operations (\(ops)); \(w.bytesPut) B put, \(w.bytesGot) B got")
            }
            let v = s.verdict
            print("objects read back byte for byte: \(v.objectsChecked) (\(v.bytesChecked) B)")
            print("log records of the workers: \(v.recordsFound) for \(v.recordsExpected) operations; log verifies: \(v.logVerified) (size \(v.logSize))")
            print("killed put visible: \(v.victimVisible); pending versions \(v.pendingBeforeCollection) (with \(v.orphanedGroups) uploaded groups) -> \(v.pendingAfterCollection) after collection")
            print("bucket objects \(v.bucketObjectsBeforeCollection) -> \(v.bucketObjectsAfterCollection) after collection; referenced by committed versions: \(v.referencedObjects)")
            print(v.ok ? "ok" : "FAILED: " + v.problems.joined(separator: "; "))
        }
    }
}

/// The default location of a scale-out configuration.
private func requireLocation(_ configuration: ScaleOutConfiguration) throws -> S3Location {
    guard let location = configuration.locations["default"] else { throw CofferError(.invalidArgument, "the vault has no default location") }
    return location
}

/// What `coffer bench soak` prints.
struct SoakSummary: Codable {
    struct Worker: Codable {
        var worker: Int
        var operations: [String: Int]
        var records: Int
        var bytesPut: Int64
        var bytesGot: Int64
        var objectsLeft: Int

        init(_ report: ScaleOutSoak.WorkerReport) {
            worker = report.worker
            operations = report.operations
            records = report.records
            bytesPut = report.bytesPut
            bytesGot = report.bytesGot
            objectsLeft = report.objects.count
        }
    }

    var processes: Int
    var seconds: Int
    var elapsedSeconds: Double
    var victimKilled: Bool
    var workers: [Worker]
    var verdict: ScaleOutSoak.Verdict
}

/// Waits, off the cooperative pool, for `process` to end.
private func waitForExit(_ process: Process) async {
    await offThePool { process.waitUntilExit() }
}

/// Runs blocking `body` on a Dispatch thread, never one of Swift concurrency's cooperative pool.
private func offThePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: body()) }
    }
}

/// One line from `handle` (without its newline), or what came before the end of the stream.
private func readLine(_ handle: FileHandle) -> String {
    var bytes: [UInt8] = []
    while true {
        let chunk = handle.readData(ofLength: 1)
        if chunk.isEmpty || chunk.first == UInt8(ascii: "\n") { break }
        bytes.append(contentsOf: chunk)
    }
    return String(decoding: bytes, as: UTF8.self)
}
