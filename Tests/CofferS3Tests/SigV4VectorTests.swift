import Foundation
import Testing
import CofferCrypto
@testable import CofferS3

// Every case of sigv4_vectors.json, made by botocore (scripts/make-sigv4-vectors.py), reproduced
// byte for byte: canonical request, string to sign, signed headers, signature, the headers added
// and the URL.

@Suite("SigV4 vectors from botocore")
struct SigV4VectorTests {
    @Test("the vector file covers the methods, presigning, a session token, a port and the AWS examples")
    func coverage() throws {
        let file = try JSONDecoder().decode(SigV4VectorFile.self, from: try resource("sigv4_vectors.json"))
        #expect(file.vectors.count >= 25)
        #expect(Set(file.vectors.map(\.method)).isSuperset(of: ["GET", "PUT", "DELETE", "HEAD", "POST"]))
        #expect(file.vectors.filter { $0.kind == "presign" }.count >= 5)
        #expect(file.vectors.contains { $0.sessionToken != nil && $0.kind == "header" })
        #expect(file.vectors.contains { $0.sessionToken != nil && $0.kind == "presign" })
        #expect(file.vectors.contains { $0.port == 8333 && $0.host == "127.0.0.1" })
        #expect(file.vectors.contains { $0.payloadHash == "UNSIGNED-PAYLOAD" })
        #expect(file.published == ["aws-get-bucket-lifecycle", "aws-get-object", "aws-list-objects", "aws-presigned-get"])
        #expect(file.source.hasPrefix("botocore 1."))
    }

    @Test("header signing matches botocore", arguments: headerVectors)
    func headerSigning(_ v: SigV4Vector) throws {
        let request = try v.request()
        let signature = try v.signer().sign(request, payload: try v.payload(),
                                            date: Date(timeIntervalSince1970: v.date))
        #expect(signature.canonicalRequest == v.expected.canonicalRequest)
        #expect(signature.stringToSign == v.expected.stringToSign)
        #expect(signature.signedHeaders == v.expected.signedHeaders)
        #expect(signature.signature == v.expected.signature)
        var expected = try #require(v.expected.addedHeaders)
        if !v.headers.contains(where: { $0[0].lowercased() == "host" }) {
            let host: String = try #require(v.expected.hostHeader)
            expected["host"] = host
        }
        let added = Dictionary(signature.headers.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(signature.headers.count == added.count, "a header added twice")
        #expect(added == expected)
        #expect(signature.authorization == expected["authorization"])
        #expect(request.url == v.expected.url)
        #expect(request.hostHeader == v.expected.hostHeader)
    }

    @Test("a recorded body hashes to the recorded payload hash", arguments: headerVectors.filter { $0.body != nil })
    func bodyHash(_ v: SigV4Vector) throws {
        let body = try #require(v.body)
        guard v.payloadHash != PayloadHash.unsigned.value else { return }
        #expect(try PayloadHash.sha256(of: Array(body.utf8)).value == v.payloadHash)
    }

    @Test("presigned URLs match botocore", arguments: presignVectors)
    func presigning(_ v: SigV4Vector) throws {
        let url = try v.signer().presign(try v.request(), expires: try #require(v.expires),
                                         date: Date(timeIntervalSince1970: v.date))
        #expect(url == v.expected.url)
        #expect(url.hasSuffix("&X-Amz-Signature=" + v.expected.signature))
        #expect(url.contains("&X-Amz-Date=" + v.expected.amzDate + "&"))
        #expect(url.contains("X-Amz-SignedHeaders=" + URIEncoding.query(v.expected.signedHeaders) + "&"))
    }

    @Test("a changed input changes the signature", arguments: headerVectors.prefix(6))
    func sensitivity(_ v: SigV4Vector) throws {
        let date = Date(timeIntervalSince1970: v.date)
        let base = try v.signer().sign(try v.request(), payload: try v.payload(), date: date).signature
        let request = try v.request()
        let moved = try S3Request(method: request.method, scheme: request.scheme, host: request.host,
                                  port: request.port, path: request.path + "x", query: request.query,
                                  headers: request.headers)
        #expect(try v.signer().sign(moved, payload: try v.payload(), date: date).signature != base)
        #expect(try v.signer().sign(request, payload: try v.payload(), date: date + 1).signature != base)
        let otherRegion = try SigV4(region: v.region + "x", credentials: try v.signer().credentials)
        #expect(try otherRegion.sign(request, payload: try v.payload(), date: date).signature != base)
        let otherSecret = try SigV4(region: v.region, credentials: S3Credentials(
            accessKeyID: v.accessKeyID, secretAccessKey: v.secretAccessKey + "x", sessionToken: v.sessionToken))
        #expect(try otherSecret.sign(request, payload: try v.payload(), date: date).signature != base)
    }
}
