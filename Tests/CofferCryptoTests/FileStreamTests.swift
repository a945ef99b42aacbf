import Foundation
import Testing
@testable import CofferCrypto

/// The descriptor entry points the CLI uses: a regular file takes the mapped, parallel path; a
/// pipe takes the streaming path. Both must give the same bytes and fail the same way.
@Suite("File and pipe streams")
struct FileStreamTests {
    enum Source: String, CaseIterable, CustomStringConvertible {
        case regularFile, pipe
        var description: String { rawValue }
    }

    /// Writes `bytes` where `run` can read them as `source`, and returns what `run` wrote to a file.
    private func transform(_ bytes: [UInt8], from source: Source, in directory: URL,
                           _ run: (Int32, Int32) throws -> Void) throws -> [UInt8] {
        let outURL = directory.appendingPathComponent("out-\(UUID().uuidString)")
        #expect(FileManager.default.createFile(atPath: outURL.path, contents: nil))
        let output = open(outURL.path, O_WRONLY | O_TRUNC)
        defer { close(output) }
        switch source {
        case .regularFile:
            let inURL = directory.appendingPathComponent("in-\(UUID().uuidString)")
            try Data(bytes).write(to: inURL)
            let input = open(inURL.path, O_RDONLY)
            defer { close(input) }
            try run(input, output)
        case .pipe:
            var fds: [Int32] = [0, 0]
            #expect(pipe(&fds) == 0)
            let writeEnd = fds[1]
            let writer = Thread {
                _ = bytes.withUnsafeBytes { try? FileDescriptorIO.writeAll(writeEnd, $0) }
                close(writeEnd)
            }
            writer.start()
            defer { close(fds[0]) }
            try run(fds[0], output)
        }
        return Array(try Data(contentsOf: outURL))
    }

    @Test("round trips at segment boundaries", arguments: Source.allCases, [1, 2])
    func roundTrip(source: Source, workers: Int) throws {
        let aead = try StreamingAEAD(key: randomKey(), segmentSize: 4096)
        let aad = Array("tenant/acme/object/1/v1".utf8)
        try withTemporaryDirectory { dir in
            for size in [0, 1, 4039, 4040, 4041, 8120, 8121, 4040 + 4080 * 300 + 7] {
                let plaintext = try randomBytes(size)
                let sealed = try transform(plaintext, from: source, in: dir) { i, o in
                    let counts = try aead.seal(readingFrom: i, writingTo: o, aad: aad, workers: workers)
                    #expect(counts.plaintext == Int64(size))
                }
                #expect(Int64(sealed.count) == aead.layout.ciphertextSize(plaintextSize: Int64(size)))
                #expect(try aead.open(sealed, aad: aad) == plaintext, "size \(size)")
                let opened = try transform(sealed, from: source, in: dir) { i, o in
                    let count = try aead.open(readingFrom: i, writingTo: o, aad: aad, workers: workers)
                    #expect(count == Int64(size))
                }
                #expect(opened == plaintext, "size \(size)")
            }
        }
    }

    @Test("a tampered segment stops the output before it", arguments: Source.allCases)
    func tamperedSegmentIsNeverWritten(source: Source) throws {
        let aead = try StreamingAEAD(key: randomKey(), segmentSize: 4096)
        let aad = Array("aad".utf8)
        let plaintext = try randomBytes(4040 + 4080 * 40)
        var sealed = try aead.seal(plaintext, aad: aad)
        let bad = 17
        sealed[bad * 4096 + 100] ^= 0x01
        try withTemporaryDirectory { dir in
            var code: CofferError.Code?
            let written = try transform(sealed, from: source, in: dir) { i, o in
                code = errorCode { _ = try aead.open(readingFrom: i, writingTo: o, aad: aad, workers: 2) }
            }
            #expect(code == .authenticationFailed)
            let goodBytes = Int(aead.layout.plaintextOffset(ofSegment: bad))
            #expect(written.count <= goodBytes)
            #expect(Array(plaintext.prefix(written.count)) == written)
        }
    }

    @Test("truncated and extended ciphertexts fail", arguments: Source.allCases)
    func truncationFails(source: Source) throws {
        let aead = try StreamingAEAD(key: randomKey(), segmentSize: 4096)
        let aad = Array("aad".utf8)
        let sealed = try aead.seal(try randomBytes(4040 + 4080 * 3 + 10), aad: aad)
        try withTemporaryDirectory { dir in
            for cut in [0, 10, 55, 4096, 8192, 8193, sealed.count - 1] {
                var code: CofferError.Code?
                _ = try transform(Array(sealed.prefix(cut)), from: source, in: dir) { i, o in
                    code = errorCode { _ = try aead.open(readingFrom: i, writingTo: o, aad: aad) }
                }
                #expect(code != nil, "cut at \(cut) must fail")
            }
            var code: CofferError.Code?
            _ = try transform(sealed + [0], from: source, in: dir) { i, o in
                code = errorCode { _ = try aead.open(readingFrom: i, writingTo: o, aad: aad) }
            }
            #expect(code != nil, "an appended byte must fail")
        }
    }
}
