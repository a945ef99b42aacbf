import Foundation
import Testing
@testable import CofferCrypto
import CofferTestSupport

@Suite("Envelope encryption")
struct EnvelopeTests {
    let context = "tenant/acme/content"

    @Test func wrapUnwrapRoundTrip() throws {
        let kek = try Keyring.generate().activeKey
        let dataKey = try randomKey()
        let wrapped = try kek.wrap(dataKey, context: context)
        #expect(wrapped.kekID == kek.id)
        #expect(wrapped.sealed.count == 32 + AESGCM.overhead)
        #expect(!wrapped.sealed.withUnsafeBytes { s in dataKey.withUnsafeBytes { k in
            s.count >= 44 && ConstantTime.equals(UnsafeRawBufferPointer(rebasing: s[12..<44]), k)
        } })
        let unwrapped = try kek.unwrap(wrapped, context: context)
        #expect(unwrapped.count == 32)
        #expect(unwrapped.constantTimeEquals(dataKey))
        // The same storage form rebuilt from its parts still unwraps.
        #expect(try kek.unwrap(WrappedKey(kekID: wrapped.kekID, sealed: wrapped.sealed), context: context)
            .constantTimeEquals(dataKey))
    }

    @Test func wrappingTwiceGivesDifferentBytes() throws {
        let kek = try Keyring.generate().activeKey
        let dataKey = try randomKey()
        #expect(try kek.wrap(dataKey, context: context) != (try kek.wrap(dataKey, context: context)))
    }

    @Test(arguments: ["tenant/acme/pii", "tenant/acmf/content", "", "tenant/acme/content "])
    func otherContextFails(other: String) throws {
        let kek = try Keyring.generate().activeKey
        let wrapped = try kek.wrap(try randomKey(), context: context)
        let error = errorOf { _ = try kek.unwrap(wrapped, context: other) }
        #expect(error?.code == .authenticationFailed)
        #expect(error?.message.contains(kek.id) == true)
    }

    @Test func tamperedWrappedKeyFails() throws {
        let kek = try Keyring.generate().activeKey
        let wrapped = try kek.wrap(try randomKey(), context: context)
        for position in [0, 11, 12, 30, 43, 44, 59] {
            var sealed = wrapped.sealed
            sealed[position] ^= 0x04
            let bad = WrappedKey(kekID: wrapped.kekID, sealed: sealed)
            #expect(errorCode { _ = try kek.unwrap(bad, context: context) } == .authenticationFailed, "byte \(position)")
        }
        for length in [0, 27, 28, 59] {
            let short = WrappedKey(kekID: wrapped.kekID, sealed: Array(wrapped.sealed.prefix(length)))
            #expect(errorCode { _ = try kek.unwrap(short, context: context) } == .authenticationFailed, "\(length) bytes")
        }
    }

    @Test func otherKEKIDIsRefused() throws {
        let kek = try Keyring.generate().activeKey
        let wrapped = try kek.wrap(try randomKey(), context: context)
        let relabelled = WrappedKey(kekID: "kek-other", sealed: wrapped.sealed)
        let error = errorOf { _ = try kek.unwrap(relabelled, context: context) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("kek-other") == true)
        // Another keyring's KEK cannot unwrap it either.
        let stranger = try Keyring.generate().activeKey
        #expect(errorCode { _ = try stranger.unwrap(wrapped, context: context) } == .invalidArgument)
    }

    @Test func sameIDWithOtherMaterialFails() throws {
        let kek = try Keyring.generate().activeKey
        let wrapped = try kek.wrap(try randomKey(), context: context)
        let impostor = KeyEncryptionKey(id: kek.id, material: try randomKey())
        #expect(errorCode { _ = try impostor.unwrap(wrapped, context: context) } == .authenticationFailed)
    }

    @Test func theKEKIDIsBoundToTheWrappedKey() throws {
        let material = try randomKey()
        let a = KeyEncryptionKey(id: "kek-a", material: material), b = KeyEncryptionKey(id: "kek-b", material: material)
        let wrapped = try a.wrap(try randomKey(), context: context)
        let moved = WrappedKey(kekID: "kek-b", sealed: wrapped.sealed)
        #expect(errorCode { _ = try b.unwrap(moved, context: context) } == .authenticationFailed)
    }
}
