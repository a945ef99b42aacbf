import Foundation
import Testing
@testable import CofferCrypto

/// Bytes from a hex string ("" gives no bytes). Traps on bad input: test data is fixed.
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    precondition(digits.count % 2 == 0, "odd-length hex")
    func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: preconditionFailure("not a hex digit")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
}

/// Lower-case hex of `bytes`, for readable failure messages.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// The contents of a file in the test bundle's `Resources` folder.
func resource(_ name: String) throws -> Data {
    let url = try #require(Bundle.module.resourceURL).appendingPathComponent("Resources/\(name)")
    return try Data(contentsOf: url)
}

/// A key holding `bytes`.
func key(_ bytes: [UInt8]) -> SecureBytes { SecureBytes(copying: bytes) }

/// A fresh random 32-byte key.
func randomKey() throws -> SecureBytes { try SecureBytes.random(count: 32) }

/// Random bytes for a plaintext.
func randomBytes(_ count: Int) throws -> [UInt8] { try SecureRandom.bytes(count) }

/// Runs `body` and returns the code of the ``CofferError`` it throws, or nil if it throws nothing.
/// Records an issue when it throws something else.
func errorCode(_ body: () throws -> Void) -> CofferError.Code? {
    errorOf(body)?.code
}

/// The ``CofferError`` `body` throws, or nil.
func errorOf(_ body: () throws -> Void) -> CofferError? {
    do {
        try body()
        return nil
    } catch let error as CofferError {
        return error
    } catch {
        Issue.record("expected a CofferError, got \(error)")
        return nil
    }
}

/// A fresh temporary directory, removed after `body` returns.
func withTemporaryDirectory<R>(_ body: (URL) throws -> R) throws -> R {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory)
}
