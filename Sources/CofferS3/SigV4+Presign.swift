import Foundation
import CofferCrypto

// Query-string authentication ("presigned URLs"): the signature and its parameters go in the
// query string, so the URL alone authorizes the request until it expires.
extension SigV4 {
    /// The longest expiry Signature Version 4 allows: seven days.
    public static let maximumExpiry = 604_800

    /// The query parameters presigning adds, in the order they are appended.
    static let presignParameters = [
        "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
        "X-Amz-Security-Token", "X-Amz-Signature",
    ]

    /// A presigned URL for `request`: anyone holding it can make that request until it expires,
    /// so treat it as a credential and do not log it.
    ///
    /// The payload is `UNSIGNED-PAYLOAD`. The URL holds the request's query items in their order,
    /// then `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
    /// `X-Amz-SignedHeaders`, `X-Amz-Security-Token` (temporary credentials only) and
    /// `X-Amz-Signature`. The request's headers are signed with `host`: whoever uses the URL must
    /// send them unchanged.
    /// - Parameters:
    ///   - request: The request to authorize; no query item may use a name of the list above.
    ///   - expires: Seconds the URL stays valid, 1 to ``maximumExpiry``.
    ///   - date: The signing time, from which the expiry counts.
    /// - Returns: The URL.
    /// - Throws: ``CofferError`` `invalidArgument` for an expiry out of range, a query item that
    ///   would collide with the signature's own, or a date outside 1970-9999; `cryptoFailure`.
    public func presign(_ request: S3Request, expires: Int, date: Date = Date()) throws -> String {
        guard (1...Self.maximumExpiry).contains(expires) else {
            throw CofferError(.invalidArgument, "a presigned URL expires after 1 to \(Self.maximumExpiry) seconds, not \(expires)")
        }
        let reserved = Set(Self.presignParameters.map { $0.lowercased() })
        if let clash = request.query.first(where: { reserved.contains($0.name.lowercased()) }) {
            throw CofferError(.invalidArgument, "query item \(clash.name) is written by the signer; leave it out")
        }
        let time = try SigningTime(date)
        var headers = request.headers
        if !headers.contains(where: { $0.name.lowercased() == "host" }) {
            headers.append(S3Header("host", request.hostHeader))
        }
        let signedHeaders = Self.canonicalHeaders(headers).signed
        var authPairs = [
            ("X-Amz-Algorithm", Self.algorithm),
            ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(time))"),
            ("X-Amz-Date", time.stamp),
            ("X-Amz-Expires", String(expires)),
            ("X-Amz-SignedHeaders", signedHeaders),
        ]
        if let token = credentials.sessionToken { authPairs.append(("X-Amz-Security-Token", token)) }
        let operationPairs = request.query.map { ($0.name, $0.value ?? "") }
        let canonical = Self.canonicalRequest(method: request.method, path: request.path,
                                              query: operationPairs + authPairs, headers: headers,
                                              payload: .unsigned)
        let signature = try sign(try stringToSign(canonical, time: time), time: time)
        let query = S3Request.encodedQuery(operationPairs + authPairs + [("X-Amz-Signature", signature)])
        return request.origin + Self.canonicalURI(request.path) + "?" + query
    }
}
