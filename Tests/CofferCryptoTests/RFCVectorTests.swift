import Foundation
import Testing
@testable import CofferCrypto

// Known-answer tests from the RFCs, kept as resources (made and checked by
// scripts/make-rfc-vectors.py, which recomputes each RFC value with Python before writing it).

/// One RFC 8032 section 7.1 vector.
struct Ed25519Vector: Decodable, Sendable, CustomTestStringConvertible {
    let name: String
    let seed: String
    let publicKey: String
    let message: String
    let signature: String
    var testDescription: String { name }
}

private struct Ed25519File: Decodable {
    let source: String
    let tests: [Ed25519Vector]
}

/// One scrypt vector: hex password and salt, log2 N, r, p, hex output.
struct ScryptVector: Decodable, Sendable, CustomTestStringConvertible {
    let password: String
    let salt: String
    let logN: Int
    let r: Int
    let p: Int
    let derived: String
    let slow: Bool?
    var testDescription: String { "N=2^\(logN) r=\(r) p=\(p) salt=\(salt.count / 2)B dk=\(derived.count / 2)B" }
}

private struct ScryptFile: Decodable {
    let source: String
    let rfc: [ScryptVector]
    let inRange: [ScryptVector]
}

let ed25519Vectors: [Ed25519Vector] =
    (try? JSONDecoder().decode(Ed25519File.self, from: resource("ed25519_rfc8032.json")).tests) ?? []
private let scryptFile = try? JSONDecoder().decode(ScryptFile.self, from: resource("scrypt_rfc7914.json"))
let scryptRFCVectors: [ScryptVector] = scryptFile?.rfc ?? []
let scryptInRangeVectors: [ScryptVector] = scryptFile?.inRange ?? []

/// The RFC's N = 2^20 vector needs 1 GiB and tens of seconds on a shared core: run only on request.
private let runSlowVectors = ProcessInfo.processInfo.environment["COFFER_SLOW_VECTORS"] == "1"

@Suite("RFC 8032 Ed25519 vectors")
struct Ed25519VectorTests {
    @Test("the vector file holds the five RFC 8032 section 7.1 tests")
    func fileLoads() throws {
        let file = try JSONDecoder().decode(Ed25519File.self, from: try resource("ed25519_rfc8032.json"))
        #expect(file.tests.map(\.name) == ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"])
        #expect(hex(file.tests[3].message).count == 1023)
    }

    @Test("public key from seed, signature bytes, and verification", arguments: ed25519Vectors)
    func signAndVerify(_ v: Ed25519Vector) throws {
        let key = try Ed25519SigningKey(seed: SecureBytes(copying: hex(v.seed)))
        #expect(hexString(key.publicKey) == v.publicKey)
        let message = hex(v.message)
        #expect(hexString(try key.sign(message)) == v.signature)
        #expect(Ed25519.isValid(signature: hex(v.signature), message: message, publicKey: hex(v.publicKey)))
    }

    @Test("a tampered message, signature or key fails verification", arguments: ed25519Vectors)
    func tampered(_ v: Ed25519Vector) throws {
        let message = hex(v.message), signature = hex(v.signature), publicKey = hex(v.publicKey)
        // One bit of the message (or a byte appended to the empty one).
        var changed = message
        if changed.isEmpty { changed = [0] } else { changed[changed.count / 2] ^= 0x01 }
        #expect(!Ed25519.isValid(signature: signature, message: changed, publicKey: publicKey))
        #expect(!Ed25519.isValid(signature: signature, message: message + [0], publicKey: publicKey))
        if !message.isEmpty {
            #expect(!Ed25519.isValid(signature: signature, message: Array(message.dropLast()), publicKey: publicKey))
        }
        // One bit of R, one bit of S, and S + L (a non-canonical S that RFC 8032 5.1.7 rejects).
        for index in [0, 31, 32, 63] {
            var bad = signature
            bad[index] ^= 0x01
            #expect(!Ed25519.isValid(signature: bad, message: message, publicKey: publicKey), "signature byte \(index)")
        }
        #expect(!Ed25519.isValid(signature: addL(toS: signature), message: message, publicKey: publicKey))
        // Truncated or lengthened signature, another vector's key, a flipped key bit.
        #expect(!Ed25519.isValid(signature: Array(signature.dropLast()), message: message, publicKey: publicKey))
        #expect(!Ed25519.isValid(signature: signature + [0], message: message, publicKey: publicKey))
        let other = ed25519Vectors.first { $0.name != v.name }!
        #expect(!Ed25519.isValid(signature: signature, message: message, publicKey: hex(other.publicKey)))
        var badKey = publicKey
        badKey[5] ^= 0x20
        #expect(!Ed25519.isValid(signature: signature, message: message, publicKey: badKey))
        #expect(!Ed25519.isValid(signature: signature, message: message, publicKey: Array(publicKey.dropLast())))
    }

    @Test("a seed that is not 32 bytes is refused")
    func seedSize() {
        #expect(errorCode { _ = try Ed25519SigningKey(seed: SecureBytes(copying: [UInt8](repeating: 1, count: 31))) } == .invalidKey)
        #expect(errorCode { _ = try Ed25519SigningKey(seed: SecureBytes(copying: [UInt8](repeating: 1, count: 33))) } == .invalidKey)
    }
}

/// S + L, little-endian (L = 2^252 + 27742317777372353535851937790883648493, the group order):
/// the same point equation holds, so only the check S < L refuses it.
private func addL(toS signature: [UInt8]) -> [UInt8] {
    let l: [UInt8] = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
    var out = signature, carry = 0
    for i in 0..<32 {
        let sum = Int(signature[32 + i]) + Int(l[i]) + carry
        out[32 + i] = UInt8(sum & 0xFF)
        carry = sum >> 8
    }
    return out
}

@Suite("RFC 7914 scrypt vectors")
struct ScryptVectorTests {
    @Test("the vector file holds RFC 7914 section 12's four vectors and the in-range ones")
    func fileLoads() {
        #expect(scryptRFCVectors.map(\.logN) == [4, 10, 14, 20])
        #expect(scryptRFCVectors.map { $0.slow ?? false } == [false, false, false, true])
        #expect(scryptInRangeVectors.count >= 4)
    }

    @Test("RFC 7914 section 12 (through the unchecked core: the RFC's parameters are outside the password range)",
          arguments: scryptRFCVectors)
    func rfc(_ v: ScryptVector) throws {
        // N = 2^20, r = 8 needs 1 GiB and about 35 s on one shared CI core: run with COFFER_SLOW_VECTORS=1.
        guard !(v.slow ?? false) || runSlowVectors else { return }
        let password = hex(v.password)
        let derived = try password.withUnsafeBytes {
            try Scrypt.deriveUnchecked(password: $0, salt: hex(v.salt), logN: v.logN, r: v.r, p: v.p, length: v.derived.count / 2)
        }
        #expect(derived.withUnsafeBytes { hexString($0) } == v.derived)
    }

    @Test("the public API gives Python's hashlib.scrypt output for parameters it accepts", arguments: scryptInRangeVectors)
    func inRange(_ v: ScryptVector) throws {
        let password = hex(v.password), salt = hex(v.salt)
        let derived = try password.withUnsafeBytes {
            try Scrypt.derive(password: $0, salt: salt, logN: v.logN, r: v.r, p: v.p, length: v.derived.count / 2)
        }
        #expect(derived.withUnsafeBytes { hexString($0) } == v.derived)
        // Any change of input changes the output.
        var otherSalt = salt
        otherSalt[0] ^= 1
        let changed = try (password + [0x21]).withUnsafeBytes {
            try Scrypt.derive(password: $0, salt: salt, logN: v.logN, r: v.r, p: v.p, length: v.derived.count / 2)
        }
        let salted = try password.withUnsafeBytes {
            try Scrypt.derive(password: $0, salt: otherSalt, logN: v.logN, r: v.r, p: v.p, length: v.derived.count / 2)
        }
        #expect(changed.withUnsafeBytes { hexString($0) } != v.derived)
        #expect(salted.withUnsafeBytes { hexString($0) } != v.derived)
    }

    @Test("the public API refuses the RFC's parameters: short salts and N below 2^10")
    func publicRangeRefusesRFCParameters() {
        for v in scryptRFCVectors {
            let code = errorCode {
                _ = try hex(v.password).withUnsafeBytes {
                    try Scrypt.derive(password: $0, salt: hex(v.salt), logN: v.logN, r: v.r, p: v.p, length: 64)
                }
            }
            #expect(code == .invalidArgument, "\(v.testDescription)")
        }
        let salt = [UInt8](repeating: 7, count: 16)
        for (logN, r, p, length) in [(9, 8, 1, 32), (21, 8, 1, 32), (10, 0, 1, 32), (10, 33, 1, 32), (10, 8, 0, 32),
                                     (10, 8, 17, 32), (10, 8, 1, 15), (10, 8, 1, 65)] {
            let code = errorCode { _ = try [UInt8]().withUnsafeBytes { try Scrypt.derive(password: $0, salt: salt, logN: logN, r: r, p: p, length: length) } }
            #expect(code == .invalidArgument, "ln=\(logN) r=\(r) p=\(p) length=\(length)")
        }
    }
}
