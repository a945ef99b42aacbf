import ArgumentParser
import Coffer
import CofferCrypto
import Foundation

struct CryptoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crypto",
        abstract: "Seal and open streams in Tink's AES-GCM-HKDF streaming format with a raw key.",
        subcommands: [Seal.self, Open.self]
    )

    struct StreamOptions: ParsableArguments {
        @Option(name: .long, help: "Key file: 32 raw bytes or 64 hex characters, mode 0600.")
        var key: String

        @Option(name: .long, help: "Associated data bound to the stream (UTF-8 text).")
        var aad: String

        @Option(name: .customLong("segment-size"), help: "Ciphertext segment size in bytes, 4096 to 67108864.")
        var segmentSize: Int = SegmentLayout.defaultSegmentSize

        @Option(name: .customLong("in"), help: "Input file (default: standard input).")
        var input: String?

        @Option(name: .long, help: "Output file (default: standard output). Appears only when complete.")
        var out: String?

        @Option(name: .long, help: "Worker threads, 1 to \(StreamingAEAD.maximumWorkers) (default: one per core).")
        var threads: Int = StreamingAEAD.defaultWorkers

        func validate() throws {
            guard (SegmentLayout.minimumSegmentSize...SegmentLayout.maximumSegmentSize).contains(segmentSize) else {
                throw ValidationError("--segment-size must be between 4096 and 67108864")
            }
            guard (1...StreamingAEAD.maximumWorkers).contains(threads) else {
                throw ValidationError("--threads must be between 1 and \(StreamingAEAD.maximumWorkers)")
            }
        }

        /// Opens input and output, runs `body`, commits the output only if `body` succeeded.
        func withFiles(_ body: (StreamingAEAD, Int32, Int32) throws -> Void) throws {
            let aead = try StreamingAEAD(key: SecureBytes.loadRawKey(from: key), segmentSize: segmentSize)
            var inputFD = STDIN_FILENO
            if let input {
                inputFD = open(input, O_RDONLY | O_CLOEXEC)
                guard inputFD >= 0 else {
                    throw CofferError(.io, "cannot open \(input): \(String(cString: strerror(errno)))")
                }
            }
            defer { if inputFD != STDIN_FILENO { close(inputFD) } }
            guard let out else {
                try body(aead, inputFD, STDOUT_FILENO)
                return
            }
            let file = try AtomicOutputFile(path: out)
            do {
                try body(aead, inputFD, file.fd)
                try file.commit()
            } catch {
                file.discard()
                throw error
            }
        }
    }

    struct Seal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Encrypt a stream.")
        @OptionGroup var options: StreamOptions

        func run() async throws {
            try await runReportingErrors {
                try options.withFiles { aead, input, output in
                    try aead.seal(readingFrom: input, writingTo: output, aad: Array(options.aad.utf8),
                                  workers: options.threads)
                }
            }
        }
    }

    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check and decrypt a stream; exits non-zero on any authentication failure.")
        @OptionGroup var options: StreamOptions

        func run() async throws {
            try await runReportingErrors {
                try options.withFiles { aead, input, output in
                    try aead.open(readingFrom: input, writingTo: output, aad: Array(options.aad.utf8),
                                  workers: options.threads)
                }
            }
        }
    }
}
