import Foundation
import Testing
@testable import CofferCrypto
import CofferTestSupport

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

/// The contents of a file in this test bundle's `Resources` folder.
func resource(_ name: String) throws -> Data { try resource(name, in: .module) }

/// A key holding `bytes`.
func key(_ bytes: [UInt8]) -> SecureBytes { SecureBytes(copying: bytes) }

/// A fresh random 32-byte key.
func randomKey() throws -> SecureBytes { try SecureBytes.random(count: 32) }

/// Random bytes for a plaintext.
func randomBytes(_ count: Int) throws -> [UInt8] { try SecureRandom.bytes(count) }

/// Runs `body` and returns the code of the ``CofferError`` it throws, or nil if it throws nothing
/// (``errorOf(sourceLocation:_:)``).
func errorCode(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> CofferError.Code? {
    errorOf(sourceLocation: sourceLocation, body)?.code
}

/// A fresh temporary directory, removed after `body` returns.
func withTemporaryDirectory<R>(_ body: (URL) throws -> R) throws -> R {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory)
}

/// A small deterministic generator (SplitMix64), so random test choices repeat run after run.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// An error a test helper throws when a decryptor asks for something impossible.
struct TestHelperError: Error, CustomStringConvertible {
    let description: String
}

/// Expects `actual == expected` without printing megabytes when they differ: the issue gives
/// both lengths and the first offset where they differ.
func expectSameBytes(_ actual: [UInt8], _ expected: [UInt8], _ comment: Comment? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual != expected else { return }
    let first = (0..<min(actual.count, expected.count)).first { actual[$0] != expected[$0] } ?? min(actual.count, expected.count)
    Issue.record("\(comment.map { "\($0): " } ?? "")got \(actual.count) bytes, expected \(expected.count); first difference at offset \(first)",
                 sourceLocation: sourceLocation)
}
