internal import COpenSSL
import Foundation

/// Comparisons of secrets whose running time does not depend on where the inputs differ.
public enum ConstantTime {
    /// True when `a` and `b` hold the same bytes. Lengths are not secret: unequal lengths
    /// return false at once.
    /// - Parameters:
    ///   - a: One buffer.
    ///   - b: The other.
    /// - Returns: Whether the bytes are equal.
    public static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return true }
        return CRYPTO_memcmp(pa, pb, a.count) == 0
    }

    /// True when the two byte collections are equal, compared in constant time.
    /// - Parameters:
    ///   - a: One collection.
    ///   - b: The other.
    /// - Returns: Whether the bytes are equal.
    public static func equals(_ a: some ContiguousBytes, _ b: some ContiguousBytes) -> Bool {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in equals(pa, pb) } }
    }
}
