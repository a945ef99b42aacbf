import Foundation
import CofferCrypto

/// One header of an HTTP request, as given (the signer lower-cases the name and trims the value).
public struct S3Header: Sendable, Hashable {
    /// The field name, such as `Range`.
    public let name: String
    /// The field value, such as `bytes=0-9`.
    public let value: String

    /// - Parameters:
    ///   - name: The field name.
    ///   - value: The field value.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// An HTTP request to an S3-compatible endpoint, checked and ready to sign.
///
/// The path and the query items are decoded text: `/bucket/a b+c.txt`, not `/bucket/a%20b%2Bc.txt`.
/// The signer encodes them once, the way S3 expects (``url`` is what to send), so an object key
/// may hold any character, `%` included.
public struct S3Request: Sendable {
    /// `http` or `https`.
    public enum Scheme: String, Sendable {
        /// Plain HTTP, for a local server (MinIO, SeaweedFS) on a trusted network.
        case http
        /// HTTP over TLS.
        case https

        /// 80 or 443: a port the `host` header leaves out.
        public var defaultPort: Int { self == .http ? 80 : 443 }
    }

    /// The method, such as `GET`.
    public let method: String
    /// The scheme.
    public let scheme: Scheme
    /// The host in lower case, an IPv6 address in brackets.
    public let host: String
    /// The port the URL names, or nil for the scheme's default.
    public let port: Int?
    /// The decoded path, starting with `/`; for path-style addressing `/bucket/key`.
    public let path: String
    /// The decoded query items, in the order they are sent. A nil value is sent as `name=`.
    public let query: [URLQueryItem]
    /// The headers the caller sends, in order; a name may repeat.
    public let headers: [S3Header]

    /// Header names the signer writes itself (`date` is allowed: it is signed like any other).
    static let signerHeaders: Set<String> = ["authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"]

    /// Checks and keeps a request.
    /// - Parameters:
    ///   - method: Upper-case letters, such as `GET`, `PUT`, `DELETE`, `HEAD` or `POST`.
    ///   - scheme: `https` (the default) or `http`.
    ///   - host: A host name, an IPv4 address or an IPv6 address (with or without brackets), without a port.
    ///   - port: 1 to 65535, or nil for the scheme's default. A default port given explicitly stays in
    ///     ``url`` and is left out of the `host` header.
    ///   - path: The decoded path, starting with `/`.
    ///   - query: Decoded query items; names must not be empty.
    ///   - headers: Headers to send and sign, except `authorization`, `x-amz-date`,
    ///     `x-amz-content-sha256` and `x-amz-security-token`, which the signer sets.
    /// - Throws: ``CofferError`` `invalidArgument` naming the part that is malformed.
    public init(method: String, scheme: Scheme = .https, host: String, port: Int? = nil, path: String,
                query: [URLQueryItem] = [], headers: [S3Header] = []) throws {
        guard !method.isEmpty, method.utf8.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) else {
            throw CofferError(.invalidArgument, "method must be upper-case letters, such as GET or PUT")
        }
        if let port, !(1...65_535).contains(port) {
            throw CofferError(.invalidArgument, "port \(port) is outside 1-65535")
        }
        guard path.hasPrefix("/") else {
            throw CofferError(.invalidArgument, "path must start with `/` (for path-style addressing, /bucket/key)")
        }
        if query.contains(where: { $0.name.isEmpty }) {
            throw CofferError(.invalidArgument, "a query item has an empty name")
        }
        for header in headers { try Self.check(header) }
        self.method = method
        self.scheme = scheme
        self.host = try Self.normalizedHost(host)
        self.port = port
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// The value of the `host` header: the host, and the port unless it is the scheme's default.
    public var hostHeader: String {
        guard let port, port != scheme.defaultPort else { return host }
        return "\(host):\(port)"
    }

    /// The URL to send: the path encoded as it is signed, the query items encoded in their order.
    public var url: String {
        var text = origin + URIEncoding.path(path)
        if !query.isEmpty { text += "?" + Self.encodedQuery(query.map { ($0.name, $0.value ?? "") }) }
        return text
    }

    /// `scheme://host[:port]`, the port as given.
    var origin: String { "\(scheme.rawValue)://\(host)" + (port.map { ":\($0)" } ?? "") }

    /// `name=value` pairs, each part encoded, joined by `&` in the given order.
    static func encodedQuery(_ pairs: [(String, String)]) -> String {
        pairs.map { URIEncoding.query($0.0) + "=" + URIEncoding.query($0.1) }.joined(separator: "&")
    }

    private static func check(_ header: S3Header) throws {
        let name = header.name.lowercased()
        // RFC 9110 token characters.
        let token = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz".utf8)
        guard !name.isEmpty, name.utf8.allSatisfy({ token.contains($0) }) else {
            throw CofferError(.invalidArgument, "header name \(header.name.debugDescription) is not an HTTP token")
        }
        guard !signerHeaders.contains(name) else {
            throw CofferError(.invalidArgument, "header \(name) is set by the signer; leave it out of the request")
        }
        // Printable ASCII and tab: no CR or LF to split the request, and no text S3 would
        // canonicalize differently from the signer.
        guard header.value.utf8.allSatisfy({ (0x20...0x7E).contains($0) || $0 == 0x09 }) else {
            throw CofferError(.invalidArgument,
                              "header \(name) holds a control character or non-ASCII text; encode the value first")
        }
    }

    private static func normalizedHost(_ host: String) throws -> String {
        let lower = host.lowercased()
        let ipv6 = Set("0123456789abcdef:.".utf8)
        if lower.hasPrefix("["), lower.hasSuffix("]"), lower.count > 2,
           lower.utf8.dropFirst().dropLast().allSatisfy({ ipv6.contains($0) }) {
            return lower
        }
        if lower.contains(":"), lower.utf8.allSatisfy({ ipv6.contains($0) }) { return "[\(lower)]" }
        let name = Set("0123456789abcdefghijklmnopqrstuvwxyz-._".utf8)
        guard !lower.isEmpty, lower.utf8.allSatisfy({ name.contains($0) }) else {
            throw CofferError(.invalidArgument,
                              "host \(host.debugDescription) must be a host name or an IP address, without scheme, port or path")
        }
        return lower
    }
}
