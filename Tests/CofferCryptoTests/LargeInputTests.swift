import Foundation
import Testing
@testable import CofferCrypto

@Suite("Inputs past libcrypto's int lengths, failures libcrypto reports")
struct LargeInputTests {
    @Test("AES-GCM seals and opens a message over 2 GiB (libcrypto's int length) without trapping")
    func overTwoGiB() throws {
        let size = (1 << 31) + 5
        let key = try SecureBytes.random(count: 32)
        var sealed: [UInt8]
        do {
            var message = [UInt8](repeating: 0, count: size)
            message[0] = 1
            message[size - 1] = 2
            message[1 << 30] = 3
            sealed = try AESGCM.seal(message, key: key, aad: Array("big".utf8))
        }
        #expect(sealed.count == size + AESGCM.overhead)
        let opened = try AESGCM.open(sealed, key: key, aad: Array("big".utf8))
        #expect(opened.count == size)
        #expect(opened[0] == 1 && opened[size - 1] == 2 && opened[1 << 30] == 3 && opened[12345] == 0)
        sealed[size] ^= 1  // a byte past the 2 GiB mark
        #expect(throws: CofferError.self) { _ = try AESGCM.open(sealed, key: key, aad: Array("big".utf8)) }
    }

    @Test("SecureRandom fills buffers in pieces libcrypto accepts")
    func randomFill() throws {
        let bytes = try SecureRandom.bytes(100_000)
        #expect(Set(bytes).count > 200)
    }
}
