import Foundation
import CofferCrypto

/// AWS Signature Version 4 for the `s3` service: signs requests with an `Authorization` header
/// (``sign(_:payload:date:)``) or in the query string (``presign(_:expires:date:)``).
///
/// A value type holding a region and credentials; it keeps no other state, so one signer serves
/// any number of requests from any thread. It follows the S3 API reference ("Authenticating
/// Requests (AWS Signature Version 4)") and is tested byte for byte against botocore
/// (`Tests/CofferS3Tests/Resources/sigv4_vectors.json`, `docs/scale-out.md`).
public struct SigV4: Sendable {
    /// The service name of the credential scope.
    public static let service = "s3"
    /// The algorithm name of the Authorization header and the string to sign.
    static let algorithm = "AWS4-HMAC-SHA256"

    /// The region of the credential scope, such as `us-east-1`.
    public let region: String
    /// The credentials that sign.
    public let credentials: S3Credentials

    /// A signer for `region`.
    /// - Parameters:
    ///   - region: 1 to 64 ASCII letters, digits, `-`, `_` or `.` (`us-east-1`; S3-compatible
    ///     servers often accept any region, commonly `us-east-1`).
    ///   - credentials: The credentials that sign.
    /// - Throws: ``CofferError`` `invalidArgument` for an empty or malformed region.
    public init(region: String, credentials: S3Credentials) throws {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.".utf8)
        guard (1...64).contains(region.utf8.count), region.utf8.allSatisfy({ allowed.contains($0) }) else {
            throw CofferError(.invalidArgument,
                              "region \(region.debugDescription) must be 1 to 64 letters, digits, `-`, `_` or `.`, such as us-east-1")
        }
        self.region = region
        self.credentials = credentials
    }

    /// Signs `request` with an Authorization header.
    /// - Parameters:
    ///   - request: The request; its headers are signed (except hop-by-hop ones and `user-agent`).
    ///   - payload: The SHA-256 of the body, ``PayloadHash/emptyBody`` for none, or
    ///     ``PayloadHash/unsigned``.
    ///   - date: The signing time; S3 refuses a signature more than 15 minutes away from its clock.
    /// - Returns: The headers to add to the request.
    /// - Throws: ``CofferError`` `invalidArgument` for a date outside 1970-9999, `cryptoFailure`.
    public func sign(_ request: S3Request, payload: PayloadHash, date: Date = Date()) throws -> S3Signature {
        let time = try SigningTime(date)
        var added: [S3Header] = []
        if !request.headers.contains(where: { $0.name.lowercased() == "host" }) {
            added.append(S3Header("host", request.hostHeader))
        }
        added.append(S3Header("x-amz-date", time.stamp))
        added.append(S3Header("x-amz-content-sha256", payload.value))
        if let token = credentials.sessionToken { added.append(S3Header("x-amz-security-token", token)) }
        let canonical = Self.canonicalRequest(method: request.method, path: request.path,
                                              query: request.query.map { ($0.name, $0.value ?? "") },
                                              headers: request.headers + added, payload: payload)
        let stringToSign = try stringToSign(canonical, time: time)
        let signature = try sign(stringToSign, time: time)
        let authorization = "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope(time)), "
            + "SignedHeaders=\(canonical.signedHeaders), Signature=\(signature)"
        return S3Signature(headers: added + [S3Header("authorization", authorization)], signature: signature,
                           signedHeaders: canonical.signedHeaders, canonicalRequest: canonical.text,
                           stringToSign: stringToSign)
    }

    /// The hex HMAC-SHA256 of `stringToSign` under the signing key of `time`'s day.
    func sign(_ stringToSign: String, time: SigningTime) throws -> String {
        let key = try Self.signingKey(secret: credentials.signingSecret, day: time.day, region: region,
                                      service: Self.service)
        return Hex.lower(try HMACSHA256.authenticate(Array(stringToSign.utf8), key: key))
    }

    /// The signing key: HMAC-SHA256 chained over the day, the region, the service and
    /// `aws4_request`, starting from `AWS4` + the secret. Each link lives in ``SecureBytes``.
    /// - Parameters:
    ///   - secret: `AWS4` + the secret access key.
    ///   - day: `YYYYMMDD`.
    ///   - region: The region.
    ///   - service: The service (`s3` here; a parameter so the AWS examples of other services can test it).
    /// - Returns: The 32-byte signing key.
    /// - Throws: ``CofferError`` `cryptoFailure` if libcrypto fails.
    static func signingKey(secret: SecureBytes, day: String, region: String, service: String) throws -> SecureBytes {
        var key = secret
        for part in [day, region, service, "aws4_request"] {
            var tag = try HMACSHA256.authenticate(Array(part.utf8), key: key)
            defer { tag.withUnsafeMutableBytes { SecureBytes.wipe($0) } }
            key = SecureBytes(count: tag.count) { $0.copyBytes(from: tag) }
        }
        return key
    }
}

/// What ``SigV4/sign(_:payload:date:)`` adds to a request.
///
/// Its description names the headers only: the Authorization header authorizes this request for
/// 15 minutes, and the session token is a credential.
public struct S3Signature: Sendable, CustomStringConvertible {
    /// The headers to add, with lower-case names: `host` when the request has none, `x-amz-date`,
    /// `x-amz-content-sha256`, `x-amz-security-token` with temporary credentials, `authorization`.
    public let headers: [S3Header]
    /// The signature, 64 lower-case hex digits.
    public let signature: String
    /// The signed header names, such as `host;range;x-amz-content-sha256;x-amz-date`.
    public let signedHeaders: String
    /// The canonical request that was signed (for tests; it holds the session token).
    let canonicalRequest: String
    /// The string that was signed (for tests).
    let stringToSign: String

    /// The value of the `authorization` header.
    public var authorization: String { headers.last { $0.name == "authorization" }?.value ?? "" }

    /// The names of the added headers, never their values.
    public var description: String {
        "S3Signature(adds \(headers.map(\.name).joined(separator: ", ")); signed \(signedHeaders))"
    }
}
