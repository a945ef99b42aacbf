import Foundation
import Testing
import CofferCrypto
@testable import CofferS3

// The examples the AWS documentation publishes, written out here from the documentation (not from
// botocore): the S3 API reference's "Signature Calculations for the Authorization Header:
// Transferring Payload in a Single Chunk" (GET Object, PUT Object, GET Bucket Lifecycle, Get Bucket
// (List Objects)), "Authenticating Requests: Using Query Parameters" (the presigned GET), and the
// AWS General Reference's "Examples of How to Derive a Version 4 Signing Key" (an `iam` key).

private let exampleSigner = try? SigV4(region: "us-east-1", credentials: S3Credentials(
    accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))
/// 2013-05-24T00:00:00Z.
private let exampleDate = Date(timeIntervalSince1970: 1_369_353_600)
private let exampleHost = "examplebucket.s3.amazonaws.com"

@Suite("AWS documentation examples")
struct AWSExampleTests {
    @Test("GET Object with a range: canonical request, string to sign and signature as published")
    func getObject() throws {
        let signer = try #require(exampleSigner)
        let request = try S3Request(method: "GET", host: exampleHost, path: "/test.txt",
                                    headers: [S3Header("Range", "bytes=0-9")])
        let signed = try signer.sign(request, payload: .emptyBody, date: exampleDate)
        #expect(signed.canonicalRequest == """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(signed.stringToSign == """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
            """)
        #expect(signed.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(signed.authorization == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("PUT Object with a Date header, a storage class and `$` in the key")
    func putObject() throws {
        let signer = try #require(exampleSigner)
        let body = Array("Welcome to Amazon S3.".utf8)
        let payload = try PayloadHash.sha256(of: body)
        #expect(payload.value == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let request = try S3Request(method: "PUT", host: exampleHost, path: "/test$file.text", headers: [
            S3Header("Date", "Fri, 24 May 2013 00:00:00 GMT"), S3Header("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ])
        let signed = try signer.sign(request, payload: payload, date: exampleDate)
        #expect(signed.canonicalRequest.hasPrefix("PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"))
        #expect(signed.signedHeaders == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class")
        #expect(signed.stringToSign.hasSuffix("\n9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"))
        #expect(signed.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("GET Bucket Lifecycle (?lifecycle) and Get Bucket (?max-keys=2&prefix=J)")
    func bucketQueries() throws {
        let signer = try #require(exampleSigner)
        let lifecycle = try S3Request(method: "GET", host: exampleHost, path: "/",
                                      query: [URLQueryItem(name: "lifecycle", value: nil)])
        let signedLifecycle = try signer.sign(lifecycle, payload: .emptyBody, date: exampleDate)
        #expect(signedLifecycle.canonicalRequest.hasPrefix("GET\n/\nlifecycle=\nhost:"))
        #expect(signedLifecycle.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
        let list = try S3Request(method: "GET", host: exampleHost, path: "/", query: [
            URLQueryItem(name: "max-keys", value: "2"), URLQueryItem(name: "prefix", value: "J"),
        ])
        let signedList = try signer.sign(list, payload: .emptyBody, date: exampleDate)
        #expect(signedList.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test("the presigned GET valid for 86400 seconds")
    func presignedGet() throws {
        let signer = try #require(exampleSigner)
        let request = try S3Request(method: "GET", host: exampleHost, path: "/test.txt")
        let url = try signer.presign(request, expires: 86_400, date: exampleDate)
        #expect(url == "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            + "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test("the signing key of the General Reference example (20120215, us-east-1, iam)")
    func signingKey() throws {
        let secret = SecureBytes(copying: Array("AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".utf8))
        let key = try SigV4.signingKey(secret: secret, day: "20120215", region: "us-east-1", service: "iam")
        #expect(key.withUnsafeBytes { Hex.lower(Array($0)) }
            == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }
}
