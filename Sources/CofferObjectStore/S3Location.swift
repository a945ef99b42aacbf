import CofferCrypto
import Foundation

/// Where a store's objects live: an S3-compatible endpoint, a bucket, a key prefix and the
/// region requests are signed for. Addressing is path-style (`endpoint/bucket/key`), which every
/// S3-compatible server accepts, local ones included.
public struct S3Location: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`.
    public let scheme: String
    /// The endpoint's host.
    public let host: String
    /// The endpoint's port, if not the scheme's default.
    public let port: Int?
    /// The bucket.
    public let bucket: String
    /// Prepended to every key (empty, or ending in `/`).
    public let prefix: String
    /// The region requests are signed for.
    public let region: String

    /// Reads `s3://BUCKET[/PREFIX]` with an endpoint URL (`http(s)://host[:port]`).
    /// - Throws: `CofferError` `invalidArgument` naming what is malformed.
    public init(parsing location: String, endpoint: String, region: String) throws {
        guard location.hasPrefix("s3://") else {
            throw CofferError(.invalidArgument, "an object store is s3://BUCKET[/PREFIX], not '\(DisplaySafe.text(location))'")
        }
        let rest = location.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        try Self.checkBucket(bucket)
        var prefix = String(rest.dropFirst(bucket.count)).drop { $0 == "/" }.description
        if !prefix.isEmpty && !prefix.hasSuffix("/") { prefix += "/" }
        guard prefix.utf8.count <= 512, !prefix.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw CofferError(.invalidArgument, "the key prefix must be at most 512 bytes without control characters")
        }
        guard let url = URLComponents(string: endpoint), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil, url.user == nil, url.password == nil else {
            throw CofferError(.invalidArgument, "the object store endpoint must be http(s)://HOST[:PORT] without a path, query or credentials (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)")
        }
        guard !region.isEmpty, region.utf8.count <= 64, region.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
            throw CofferError(.invalidArgument, "the region must be 1-64 printable characters without spaces or '/' (AWS_REGION)")
        }
        self.scheme = scheme
        self.host = host
        self.port = url.port
        self.bucket = bucket
        self.prefix = prefix
        self.region = region
    }

    /// A bucket name as S3 allows it: 3-63 lower-case letters, digits, `.` and `-`, starting and
    /// ending with a letter or digit.
    static func checkBucket(_ bucket: String) throws {
        let bytes = Array(bucket.utf8)
        let allowed = { (c: UInt8) in (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) }
        guard (3...63).contains(bytes.count), allowed(bytes.first!), allowed(bytes.last!),
              bytes.allSatisfy({ allowed($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else {
            throw CofferError(.invalidArgument, "a bucket name is 3-63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit")
        }
    }

    /// `s3://bucket/prefix at endpoint`.
    public var description: String { "s3://\(bucket)/\(prefix) at \(scheme)://\(host)\(port.map { ":\($0)" } ?? "")" }
}

/// Text safe to put in an error message: control characters replaced, at most 80 characters.
enum DisplaySafe {
    static func text(_ value: String) -> String {
        String(String(value.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }).prefix(80))
    }
}
