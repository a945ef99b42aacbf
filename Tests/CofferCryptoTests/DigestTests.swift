import Foundation
import Testing
@testable import CofferCrypto

@Suite("SHA-256, HMAC-SHA256, HKDF-SHA256")
struct DigestTests {
    // FIPS 180-2 appendix B examples.
    @Test(arguments: [
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256(message: String, digest: String) throws {
        #expect(hexString(try SHA256.hash(Array(message.utf8))) == digest)
    }

    @Test func sha256Incremental() throws {
        let hasher = try SHA256.Hasher()
        hasher.update(Array("a".utf8))
        hasher.update([UInt8]())
        hasher.update(Array("bc".utf8))
        #expect(hexString(try hasher.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    struct HMACCase: Sendable, CustomTestStringConvertible {
        let name: String, key: [UInt8], message: [UInt8], tag: String
        var testDescription: String { name }
    }

    // RFC 4231 section 4.
    static let hmacCases: [HMACCase] = [
        HMACCase(name: "RFC 4231 case 1", key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8),
                 tag: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        HMACCase(name: "RFC 4231 case 2", key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8),
                 tag: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        HMACCase(name: "RFC 4231 case 3", key: [UInt8](repeating: 0xaa, count: 20), message: [UInt8](repeating: 0xdd, count: 50),
                 tag: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        HMACCase(name: "RFC 4231 case 4", key: Array(1...25), message: [UInt8](repeating: 0xcd, count: 50),
                 tag: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        HMACCase(name: "RFC 4231 case 6", key: [UInt8](repeating: 0xaa, count: 131),
                 message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
                 tag: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ]

    @Test(arguments: hmacCases)
    func hmac(_ c: HMACCase) throws {
        let tag = try HMACSHA256.authenticate(c.message, key: key(c.key))
        #expect(hexString(tag) == c.tag)
        #expect(try HMACSHA256.isValid(hex(c.tag), for: c.message, key: key(c.key)))
        var wrong = hex(c.tag)
        wrong[31] ^= 1
        #expect(try !HMACSHA256.isValid(wrong, for: c.message, key: key(c.key)))
        #expect(try !HMACSHA256.isValid(hex(c.tag).dropLast(), for: c.message, key: key(c.key)))
    }

    @Test func hmacIncremental() throws {
        let mac = try HMACSHA256.Authenticator(key: key(Array("Jefe".utf8)))
        mac.update(Array("what do ya want ".utf8))
        mac.update(Array("for nothing?".utf8))
        #expect(hexString(try mac.finalize()) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    struct HKDFCase: Sendable, CustomTestStringConvertible {
        let name: String, ikm: [UInt8], salt: [UInt8], info: [UInt8], length: Int, okm: String
        var testDescription: String { name }
    }

    // RFC 5869 appendix A, test cases 1 to 3 (SHA-256).
    static let hkdfCases: [HKDFCase] = [
        HKDFCase(name: "RFC 5869 case 1", ikm: [UInt8](repeating: 0x0b, count: 22), salt: Array(0x00...0x0c),
                 info: Array(0xf0...0xf9), length: 42,
                 okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
        HKDFCase(name: "RFC 5869 case 2", ikm: Array(0x00...0x4f), salt: Array(0x60...0xaf), info: Array(0xb0...0xff),
                 length: 82,
                 okm: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
                    + "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
                    + "cc30c58179ec3e87c14c01d5c1f3434f1d87"),
        HKDFCase(name: "RFC 5869 case 3", ikm: [UInt8](repeating: 0x0b, count: 22), salt: [], info: [], length: 42,
                 okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
    ]

    @Test(arguments: hkdfCases)
    func hkdf(_ c: HKDFCase) throws {
        let okm = try HKDF.deriveKey(from: key(c.ikm), salt: c.salt, info: c.info, length: c.length)
        #expect(okm.count == c.length)
        #expect(okm.withUnsafeBytes { hexString($0) } == c.okm)
    }

    @Test(arguments: [0, -1, 255 * 32 + 1])
    func hkdfRejectsBadLength(length: Int) throws {
        let ikm = key([UInt8](repeating: 0x0b, count: 22))
        #expect(errorCode { _ = try HKDF.deriveKey(from: ikm, salt: [UInt8](), info: [UInt8](), length: length) } == .invalidArgument)
    }

    @Test func hkdfLongestOutput() throws {
        let okm = try HKDF.deriveKey(from: key([1, 2, 3]), salt: [UInt8](), info: [UInt8](), length: 255 * 32)
        #expect(okm.count == 8160)
    }
}
