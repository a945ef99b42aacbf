import Foundation
import Testing
@testable import CofferCrypto

/// The encryptor's batch buffer starts small and grows only as far as the plaintext reaches.
@Suite("Stream encryptor memory")
struct EncryptorMemoryTests {
    private let megabyte = 1 << 20

    @Test("a 4 KiB stream at 1 MiB segments holds at most 64 KiB, or exactly its ciphertext when the size is known")
    func smallStreamsStaySmall() throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: megabyte)
        let plaintext = try randomBytes(4096)
        let ciphertextSize = Int(aead.layout.ciphertextSize(plaintextSize: 4096))

        let unsized = try StreamEncryptor(aead: aead, session: aead.newSession(aad: [1]), workers: 2)
        let sealed = try encryptStream(unsized, plaintext, chunk: 1000)
        #expect(unsized.bufferBytes <= 64 * 1024)
        expectSameBytes(try aead.open(sealed, aad: [1]), plaintext)

        let sized = try StreamEncryptor(aead: aead, session: aead.newSession(aad: [2]), workers: 2, expectedBytes: 4096)
        let exact = try encryptStream(sized, plaintext, chunk: 4096)
        #expect(sized.bufferBytes == ciphertextSize)
        expectSameBytes(try aead.open(exact, aad: [2]), plaintext)
    }

    @Test("the buffer grows to one batch and no further, and the stream is the same as the one-shot seal",
          arguments: [(2, 1), (8, 2)])
    func growsToOneBatch(batchSegments: Int, workers: Int) throws {
        let segment = 64 * 1024
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: segment)
        let plaintext = try randomBytes(40 * segment + 123)
        let encryptor = try StreamEncryptor(aead: aead, session: aead.newSession(aad: [3]), workers: workers,
                                            batchSegments: batchSegments)
        let streamed = try encryptStream(encryptor, plaintext, chunk: 10_007)
        #expect(encryptor.bufferBytes == batchSegments * segment)
        let session = try aead.session(header: encryptor.header, aad: [3])
        expectSameBytes(streamed, try sealBuffers(aead, plaintext, session: session, workers: workers))
    }

    @Test("fill offers whole segments: a file read straight into the buffer still grows it in place")
    func fillGrows() throws {
        let aead = try StreamingAEAD(key: try randomKey(), segmentSize: 256 * 1024)
        let plaintext = try randomBytes(3 * 256 * 1024 + 5)
        let encryptor = try StreamEncryptor(aead: aead, session: aead.newSession(aad: [4]), workers: 1, batchSegments: 4)
        let filled = try encryptStream(encryptor, plaintext, chunk: 300_000, usingFill: true)
        #expect(encryptor.bufferBytes <= 4 * 256 * 1024)
        expectSameBytes(try aead.open(filled, aad: [4]), plaintext)
    }
}
