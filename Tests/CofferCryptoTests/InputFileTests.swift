import Foundation
import Testing
@testable import CofferCrypto

/// The regular-file path of `seal(readingFrom:)` / `open(readingFrom:)`: a guarded mapping, or
/// `pread` when the file cannot be mapped.
@Suite("Input files: guarded mapping and pread")
struct InputFileTests {
    private func scratchDirectory() throws -> URL {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        let dir = base.appendingPathComponent("coffer-input-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("the pread path seals and opens exactly like the mapped path", arguments: [0, 1, 4039, 4040, 4041, 100_000, 1 << 20])
    func preadMatchesMapping(size: Int) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let aead = try StreamingAEAD(key: SecureBytes.random(count: 32), segmentSize: 4096)
        let plain = dir.appendingPathComponent("plain").path, sealedRead = dir.appendingPathComponent("sealed-read").path
        let message = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
        try Data(message).write(to: URL(fileURLWithPath: plain))
        func run(_ inputPath: String, _ outputPath: String, _ body: (Int32, Int64, Int32) throws -> Void) throws {
            let input = open(inputPath, O_RDONLY), output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            defer { close(input); close(output) }
            try body(input, try #require(StreamingAEAD.regularFileSize(input)), output)
        }
        try run(plain, sealedRead) { i, s, o in _ = try aead.sealFile(i, size: s, writingTo: o, aad: [1], workers: 2, mapping: false) }
        for mapping in [false, true] {
            let opened = dir.appendingPathComponent("opened-\(mapping)").path
            try run(sealedRead, opened) { i, s, o in _ = try aead.openFile(i, size: s, writingTo: o, aad: [1], workers: 2, mapping: mapping) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: opened)) == Data(message), "mapping \(mapping)")
        }
        let input = open(plain, O_RDONLY)
        defer { close(input) }
        #expect(InputFile(fd: input, size: Int64(size)).isMapped == (size > 0))
        #expect(!InputFile(fd: input, size: Int64(size), mapping: false).isMapped)
    }

    @Test("a file truncated while it is sealed in this process gives io, and the process lives on", arguments: [true, false])
    func truncatedInProcess(mapping: Bool) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let aead = try StreamingAEAD(key: SecureBytes.random(count: 32), segmentSize: 1 << 20)
        let path = dir.appendingPathComponent("sparse").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        var sawTruncation = false
        for attempt in 0..<4 where !sawTruncation {
            #expect(truncate(path, off_t(1 << 30)) == 0)  // sparse: zeros that cost no memory until read
            let input = open(path, O_RDONLY), output = open("/dev/null", O_WRONLY)
            defer { close(input); close(output) }
            let cutter = Thread {
                usleep(useconds_t(20_000 + attempt * 40_000))
                _ = truncate(path, 4096)
            }
            cutter.start()
            do {
                _ = try aead.sealFile(input, size: 1 << 30, writingTo: output, aad: [UInt8](), workers: 1, mapping: mapping)
            } catch let error as CofferError {
                #expect(error.code == .io, "\(error)")
                sawTruncation = true
            }
            while !cutter.isFinished { usleep(1000) }
        }
        #expect(sawTruncation, "no run was cut short: the machine sealed 1 GiB faster than expected")
    }
}
