import ArgumentParser
import CofferCrypto
import Foundation

/// `--compare`: what a user would pick instead of Coffer, measured in the same run by
/// `scripts/bench-peers.py` (SQLCipher, plain SQLite, Tink), and the ratios against it.
struct PeerOptions: ParsableArguments {
    @Flag(name: .long, help: "Also measure the peers (SQLCipher, SQLite, Tink) in the same run through scripts/bench-peers.py, and print the ratios; missing peers are named.")
    var compare = false

    @Option(name: .customLong("peers-script"), help: "The peers script (default: scripts/bench-peers.py under the current directory).")
    var peersScript: String?

    /// Runs the peers script for `peers` with `arguments`, or returns nil without `--compare`.
    /// - Throws: `CofferError` `notFound` when the script is not there, `io` when it fails.
    func run(_ peers: [String], _ arguments: [String]) throws -> PeerReport? {
        guard compare else { return nil }
        let script = peersScript ?? "scripts/bench-peers.py"
        guard FileManager.default.fileExists(atPath: script) else {
            throw CofferError(.notFound, "--compare runs \(script), which is not here: run from the repository, or give --peers-script")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--only", peers.joined(separator: ",")] + arguments
        let output = Pipe()
        process.standardOutput = output
        do { try process.run() } catch {
            throw CofferError(.io, "cannot start python3 for the peers: \(error.localizedDescription)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CofferError(.io, "\(script) exited with status \(process.terminationStatus)")
        }
        do {
            return try JSONDecoder().decode(PeerReport.self, from: data)
        } catch {
            throw CofferError(.invalidFormat, "\(script) printed no report Coffer can read")
        }
    }
}

/// What `scripts/bench-peers.py` prints.
struct PeerReport: Codable {
    struct Peer: Codable {
        let version: String
        let measurements: [Measurement]
    }

    struct Measurement: Codable {
        let name: String
        let value: Double
        let unit: String
    }

    let peers: [String: Peer]
    /// Peers that could not run, and why (a module not installed).
    let missing: [String: String]

    /// Peer `peer`'s measurement `name`, if it ran.
    func value(_ peer: String, _ name: String) -> Double? {
        peers[peer]?.measurements.first { $0.name == name }?.value
    }

    /// Every peer's measurements and the missing ones, as lines of a table.
    var lines: [String] {
        var lines: [String] = []
        for (name, peer) in peers.sorted(by: { $0.key < $1.key }) {
            lines.append("peer \(name) (\(peer.version))")
            for m in peer.measurements {
                let value = m.unit == "bytes/s" ? String(format: "%10.0f MB/s", m.value / 1e6) : String(format: "%10.0f ops/s", m.value)
                lines.append("  \(m.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(value)")
            }
        }
        for (name, reason) in missing.sorted(by: { $0.key < $1.key }) {
            lines.append("peer \(name) missing: \(reason)")
        }
        return lines
    }
}

/// A benchmark's report with its peers and the ratios against them, for `--json --compare`.
struct Compared<Report: Encodable>: Encodable {
    let coffer: Report
    let peers: PeerReport?
    let ratios: [String: Double]
}

/// What a benchmark command prints: its JSON (`--json`) or its table, with the peers and the
/// ratios against them after `--compare`.
struct BenchOutput {
    /// The JSON document, with `--json`.
    let json: String?
    /// The table's lines, without.
    let lines: [String]

    init(_ report: some Encodable, peers: PeerReport?, ratios: [String: Double], lines: [String], json: Bool) throws {
        if json {
            self.json = try peers.map { try jsonText(Compared(coffer: report, peers: $0, ratios: ratios)) } ?? jsonText(report)
            self.lines = []
        } else {
            var all = lines
            if let peers {
                all += peers.lines
                for (name, value) in ratios.sorted(by: { $0.key < $1.key }) {
                    all.append("\(name.padding(toLength: 56, withPad: " ", startingAt: 0)) \(String(format: "%.2f", value))")
                }
            }
            self.json = nil
            self.lines = all
        }
    }

    func print() {
        if let json { Swift.print(json) } else { lines.forEach { Swift.print($0) } }
    }
}
