/// Lower-case hexadecimal, as digests, signatures and key material are written (Signature
/// Version 4, version digests, checkpoints).
package enum Hex {
    /// The sixteen digits, as UTF-8.
    package static let digits = Array("0123456789abcdef".utf8)

    /// - Parameter bytes: The bytes to write.
    /// - Returns: Two lower-case hex digits per byte.
    package static func lower(_ bytes: some Collection<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            var i = 0
            for byte in bytes {
                out[i] = digits[Int(byte >> 4)]
                out[i + 1] = digits[Int(byte & 0x0F)]
                i += 2
            }
            return i
        }
    }
}
