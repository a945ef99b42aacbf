/// The percent-encoding of Signature Version 4 (`UriEncode` in the S3 documentation).
///
/// Every byte of the UTF-8 text is written as `%XY` (upper-case hex) except the RFC 3986
/// unreserved characters `A-Z a-z 0-9 - . _ ~`, and, in a path, `/`. The text is encoded once:
/// S3 does not double-encode the path, so `%` in an object key becomes `%25` and nothing more.
enum URIEncoding {
    /// Encodes `text` for a query-string name or value: `/` becomes `%2F`.
    /// - Parameter text: The decoded text.
    /// - Returns: The encoded text, ASCII only.
    static func query(_ text: String) -> String { encode(text, keepingSlash: false) }

    /// Encodes `path` for the canonical URI: each segment is encoded, `/` stays.
    /// - Parameter path: The decoded path, such as `/bucket/a b.txt`.
    /// - Returns: The encoded path, such as `/bucket/a%20b.txt`.
    static func path(_ path: String) -> String { encode(path, keepingSlash: true) }

    /// Whether `byte` is an RFC 3986 unreserved character.
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func encode(_ text: String, keepingSlash: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) || (keepingSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
