import CofferCrypto

/// A canonical request and the signed-headers list it names.
struct CanonicalRequest: Sendable {
    /// The six lines: method, URI, query, headers (each ending in a newline), signed headers, payload.
    let text: String
    /// The lower-case header names, sorted, joined by `;`.
    let signedHeaders: String
}

// The canonical pieces of Signature Version 4 for S3, as the S3 API reference writes them
// ("Signature Calculations for the Authorization Header") and as botocore's `S3SigV4Auth` computes them.
extension SigV4 {
    /// Headers left out of the signature, as botocore leaves them out: hop-by-hop headers a proxy
    /// may add, drop or rewrite, `user-agent`, and the tracing header of AWS load balancers. They
    /// are still sent.
    static let unsignedHeaders: Set<String> = [
        "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    /// The canonical URI: each path segment encoded once (S3 does not double-encode), `/` kept,
    /// empty segments kept.
    /// - Parameter path: The decoded path.
    /// - Returns: The encoded path.
    static func canonicalURI(_ path: String) -> String { URIEncoding.path(path) }

    /// The canonical query string: names and values encoded (everything but unreserved characters),
    /// sorted by encoded name and then by encoded value, `=` always present, joined by `&`.
    /// - Parameter pairs: Decoded names and values; a name may repeat.
    /// - Returns: The canonical query string, empty for no pairs.
    static func canonicalQuery(_ pairs: [(String, String)]) -> String {
        pairs.map { (Array(URIEncoding.query($0.0).utf8), Array(URIEncoding.query($0.1).utf8)) }
            .sorted { a, b in a.0 == b.0 ? a.1.lexicographicallyPrecedes(b.1) : a.0.lexicographicallyPrecedes(b.0) }
            .map { String(decoding: $0.0 + [UInt8(ascii: "=")] + $0.1, as: UTF8.self) }
            .joined(separator: "&")
    }

    /// A header value as signed: leading and trailing spaces and tabs removed, each inner run of
    /// them replaced by one space.
    /// - Parameter value: The value as sent.
    /// - Returns: The trimmed value.
    static func trimmed(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// The canonical headers and the signed-headers list. Names are lower-cased and sorted; the
    /// values of a repeated name are trimmed and joined by `,` in their order; ``unsignedHeaders``
    /// are left out.
    /// - Parameter headers: The headers to sign, `host` and the signer's own included.
    /// - Returns: `name:value` lines, each ending in a newline, and the `;`-joined names.
    static func canonicalHeaders(_ headers: [S3Header]) -> (lines: String, signed: String) {
        var values: [String: [String]] = [:]
        for header in headers {
            let name = header.name.lowercased()
            guard !unsignedHeaders.contains(name) else { continue }
            values[name, default: []].append(trimmed(header.value))
        }
        let names = values.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let lines = names.map { "\($0):\(values[$0, default: []].joined(separator: ","))\n" }.joined()
        return (lines, names.joined(separator: ";"))
    }

    /// The canonical request.
    /// - Parameters:
    ///   - method: The method.
    ///   - path: The decoded path.
    ///   - query: Decoded query names and values, the signature's own included when presigning.
    ///   - headers: All signed headers.
    ///   - payload: The payload hash line.
    /// - Returns: The canonical request and its signed-headers list.
    static func canonicalRequest(method: String, path: String, query: [(String, String)], headers: [S3Header],
                                 payload: PayloadHash) -> CanonicalRequest {
        let (lines, signed) = canonicalHeaders(headers)
        let text = [method, canonicalURI(path), canonicalQuery(query), lines, signed, payload.value]
            .joined(separator: "\n")
        return CanonicalRequest(text: text, signedHeaders: signed)
    }

    /// The credential scope: `YYYYMMDD/region/s3/aws4_request`.
    /// - Parameter time: The signing time.
    /// - Returns: The scope.
    func scope(_ time: SigningTime) -> String { "\(time.day)/\(region)/\(Self.service)/aws4_request" }

    /// The string to sign: the algorithm, the time, the scope and the hex SHA-256 of the canonical
    /// request, one per line.
    /// - Parameters:
    ///   - canonical: The canonical request.
    ///   - time: The signing time.
    /// - Returns: The string to sign.
    /// - Throws: ``CofferError`` `cryptoFailure` if libcrypto fails.
    func stringToSign(_ canonical: CanonicalRequest, time: SigningTime) throws -> String {
        let digest = Hex.lower(try SHA256.hash(Array(canonical.text.utf8)))
        return [Self.algorithm, time.stamp, scope(time), digest].joined(separator: "\n")
    }
}
