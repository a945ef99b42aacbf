import CofferCrypto
import Foundation

/// The key of an encrypted export as a Tink JSON keyset (`FILE.zip.keyset.json`): one
/// `AesGcmHkdfStreamingKey`, SYMMETRIC, ENABLED, RAW, which Tink's
/// `json_proto_keyset_format.parse` and `cleartext_keyset_handle` load as they are.
///
/// The key's value is the protobuf `google.crypto.tink.AesGcmHkdfStreamingKey`, encoded here by
/// hand (field numbers from Tink's `proto/aes_gcm_hkdf_streaming.proto` and `proto/common.proto`):
/// `version` (1) = 0, left out as proto3 leaves out a default; `params` (2) =
/// `AesGcmHkdfStreamingParams { ciphertext_segment_size (1), derived_key_size (2) = 32,
/// hkdf_hash_type (3) = SHA256 (3) }`; `key_value` (3) = the 32-byte key. The text is built in
/// zeroizing storage and is the only copy of the key that outlives the export.
enum ExportKeyset {
    /// Tink's type URL of the key.
    static let typeURL = "type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey"

    /// The serialized `AesGcmHkdfStreamingKey` holding `key`.
    static func keyProto(key: SecureBytes, segmentSize: Int) throws -> SecureBytes {
        guard key.count == 32, segmentSize > 0, segmentSize <= Int(UInt32.max) else {
            throw CofferError(.invalidKey, "an export key is 32 bytes with a 32-bit segment size")
        }
        var params: [UInt8] = [0x08] + varint(UInt64(segmentSize))
        params += [0x10, 0x20, 0x18, 0x03]  // derived_key_size 32, hkdf_hash_type SHA256
        let prefix: [UInt8] = [0x12, UInt8(params.count)] + params + [0x1A, 0x20]
        return SecureBytes(count: prefix.count + 32) { out in
            out.copyBytes(from: prefix)
            key.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[prefix.count...]).copyMemory(from: $0) }
        }
    }

    /// The keyset's JSON text, ending in a line break.
    /// - Parameters:
    ///   - key: The 32-byte stream key.
    ///   - segmentSize: The ciphertext segment size it was used with.
    ///   - keyID: Tink's key id (also the primary key id), nonzero.
    static func json(key: SecureBytes, segmentSize: Int, keyID: UInt32) throws -> SecureBytes {
        let proto = try keyProto(key: key, segmentSize: segmentSize)
        let head = Array("""
            {
              "primaryKeyId": \(keyID),
              "key": [
                {
                  "keyData": {
                    "typeUrl": "\(typeURL)",
                    "value": "
            """.utf8)
        let tail = Array("""
            ",
                    "keyMaterialType": "SYMMETRIC"
                  },
                  "status": "ENABLED",
                  "keyId": \(keyID),
                  "outputPrefixType": "RAW"
                }
              ]
            }

            """.utf8)
        let encoded = (proto.count + 2) / 3 * 4
        return SecureBytes(count: head.count + encoded + tail.count) { out in
            out.copyBytes(from: head)
            proto.withUnsafeBytes { base64($0, into: UnsafeMutableRawBufferPointer(rebasing: out[head.count..<head.count + encoded])) }
            UnsafeMutableRawBufferPointer(rebasing: out[(head.count + encoded)...]).copyBytes(from: tail)
        }
    }

    /// Writes a fresh keyset for `key` to `file` (mode 0600, committed by the caller).
    static func write(key: SecureBytes, segmentSize: Int, to file: AtomicOutputFile) throws {
        var id: UInt32 = 0
        while id == 0 { id = UInt32.random(in: 1...UInt32.max) }
        let text = try json(key: key, segmentSize: segmentSize, keyID: id)
        try text.withUnsafeBytes { try FileDescriptorIO.writeAll(file.fd, $0) }
    }

    private static func varint(_ value: UInt64) -> [UInt8] {
        var value = value, out: [UInt8] = []
        repeat {
            out.append(UInt8(value & 0x7F) | (value > 0x7F ? 0x80 : 0))
            value >>= 7
        } while value > 0
        return out
    }

    /// Standard base64 (RFC 4648, with padding) of `input` into `output`, which holds exactly
    /// `(input.count + 2) / 3 * 4` bytes; no intermediate copy.
    static func base64(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var o = 0
        for i in stride(from: 0, to: input.count, by: 3) {
            let n = min(3, input.count - i)
            let b0 = UInt32(input[i]), b1 = n > 1 ? UInt32(input[i + 1]) : 0, b2 = n > 2 ? UInt32(input[i + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            for k in 0..<4 {
                output[o + k] = k <= n ? alphabet[Int(triple >> (18 - 6 * UInt32(k)) & 0x3F)] : UInt8(ascii: "=")
            }
            o += 4
        }
    }
}
