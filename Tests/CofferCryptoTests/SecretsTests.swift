import Foundation
import Testing
@testable import CofferCrypto

@Suite("ConstantTime, SecureBytes, SecureRandom")
struct SecretsTests {
    @Test func constantTimeEquals() {
        #expect(ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
        #expect(!ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2, 4] as [UInt8]))
        #expect(!ConstantTime.equals([0, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
        #expect(!ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2] as [UInt8]))
        #expect(!ConstantTime.equals([] as [UInt8], [0] as [UInt8]))
        #expect(ConstantTime.equals([] as [UInt8], [] as [UInt8]))
        let long = [UInt8](repeating: 0x5a, count: 4096)
        var other = long
        other[4095] = 0x5b
        #expect(ConstantTime.equals(long, long))
        #expect(!ConstantTime.equals(long, other))
    }

    @Test func secureBytesHoldsWhatItWasGiven() {
        let secret = SecureBytes(copying: [0xde, 0xad, 0xbe, 0xef])
        #expect(secret.count == 4)
        #expect(secret.withUnsafeBytes { Array($0) } == [0xde, 0xad, 0xbe, 0xef])
        #expect(SecureBytes(copying: []).count == 0)
        #expect(SecureBytes(copying: []).withUnsafeBytes { $0.count } == 0)
    }

    @Test func secureBytesDescriptionIsRedacted() {
        let secret = SecureBytes(copying: Array("hunter2-hunter2".utf8))
        #expect(secret.description == "SecureBytes(15 bytes, redacted)")
        #expect(secret.debugDescription == secret.description)
        #expect("\(secret)" == "SecureBytes(15 bytes, redacted)")
        #expect(!String(reflecting: secret).contains("hunter"))
        #expect(!secret.description.contains(hexString(Array("hunter2".utf8))))
    }

    @Test func secureBytesRandomDiffers() throws {
        let a = try SecureBytes.random(count: 32), b = try SecureBytes.random(count: 32)
        #expect(a.count == 32 && b.count == 32)
        #expect(!a.constantTimeEquals(b))
        #expect(a.constantTimeEquals(SecureBytes(copying: a.withUnsafeBytes { Array($0) })))
        #expect(a.withUnsafeBytes { bytes in bytes.contains { $0 != 0 } })
    }

    @Test func secureBytesInitializerErrorPropagates() {
        struct Refused: Error {}
        #expect(throws: Refused.self) {
            _ = try SecureBytes(count: 8) { (_: UnsafeMutableRawBufferPointer) throws(Refused) in throw Refused() }
        }
    }

    @Test func secureRandomBytes() throws {
        let a = try SecureRandom.bytes(32), b = try SecureRandom.bytes(32)
        #expect(a.count == 32)
        #expect(a != b)
        #expect(try SecureRandom.bytes(0).isEmpty)
    }

    @Test func errorDescriptionHasCodeAndMessage() {
        let error = CofferError(.truncated, "stream ends early")
        #expect(error.description == "truncated: stream ends early")
        #expect(CofferError.Code.authenticationFailed.description == "authentication-failed")
        #expect(error.code != .invalidFormat)
    }
}
