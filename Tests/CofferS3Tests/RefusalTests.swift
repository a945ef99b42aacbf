import Foundation
import Testing
import CofferCrypto
import CofferTestSupport
@testable import CofferS3

// What the signer refuses, each with `invalid-argument` and a message that names the part at fault
// and never the secret or the token.

private let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
private let token = "IQoJb3JpZ2luX2VjEJr//token=="
private func signer() throws -> SigV4 {
    try SigV4(region: "us-east-1", credentials: S3Credentials(accessKeyID: "AKID", secretAccessKey: secret,
                                                               sessionToken: token))
}

/// Expects `body` to throw `invalid-argument` with `fragment` in its message and no secret.
private func expectRefused(_ fragment: String, sourceLocation: SourceLocation = #_sourceLocation,
                           _ body: () throws -> Void) {
    let error = errorOf(sourceLocation: sourceLocation, body)
    #expect(error?.code == .invalidArgument, sourceLocation: sourceLocation)
    let message = error?.message ?? ""
    #expect(message.contains(fragment), "message: \(message)", sourceLocation: sourceLocation)
    #expect(!message.contains(secret) && !message.contains(token) && !message.contains("EXAMPLEKEY"),
            sourceLocation: sourceLocation)
}

@Suite("SigV4 refusals")
struct RefusalTests {
    @Test("regions: empty, too long, control characters, spaces, slashes", arguments: [
        "", String(repeating: "a", count: 65), "us-east-1\n", "us\u{0}east", "us east 1", "eu/west-1", "région",
    ])
    func regions(_ region: String) throws {
        let credentials = try S3Credentials(accessKeyID: "AKID", secretAccessKey: secret)
        expectRefused("region") { _ = try SigV4(region: region, credentials: credentials) }
    }

    @Test("access key ids: empty, too long, control characters, separators, non-ASCII", arguments: [
        "", String(repeating: "A", count: 129), "AKIA\u{7}", "AKIA\n", "AKIA EXAMPLE", "AKIA/EXAMPLE", "AKIA,X", "ÄKIA",
    ])
    func accessKeyIDs(_ id: String) {
        expectRefused("access key id") { _ = try S3Credentials(accessKeyID: id, secretAccessKey: secret) }
    }

    @Test("secrets: empty, or holding a control character such as a newline from a file")
    func secrets() {
        expectRefused("secret access key is empty") { _ = try S3Credentials(accessKeyID: "AKID", secretAccessKey: "") }
        expectRefused("secret access key is empty") {
            _ = try S3Credentials(accessKeyID: "AKID", secretAccessKey: SecureBytes(copying: []))
        }
        for bad in [secret + "\n", "\t" + secret, secret + "\u{7F}"] {
            expectRefused("control character") { _ = try S3Credentials(accessKeyID: "AKID", secretAccessKey: bad) }
        }
    }

    @Test("session tokens: empty, spaces, line breaks", arguments: ["", "a b", token + "\r\n", "tök"])
    func sessionTokens(_ bad: String) {
        expectRefused("session token") {
            _ = try S3Credentials(accessKeyID: "AKID", secretAccessKey: secret, sessionToken: bad)
        }
    }

    @Test("requests: method, port, path, host, query names")
    func requests() {
        for method in ["", "get", "GE T", "M-SEARCH"] {
            expectRefused("method") { _ = try S3Request(method: method, host: "h", path: "/") }
        }
        for port in [0, -1, 65_536] {
            expectRefused("port \(port)") { _ = try S3Request(method: "GET", host: "h", port: port, path: "/") }
        }
        for path in ["", "bucket/key"] {
            expectRefused("path must start with") { _ = try S3Request(method: "GET", host: "h", path: path) }
        }
        for host in ["", "h:8080", "h/b", "h b", "http://h", "h\n", "[::1", "user@h"] {
            expectRefused("host") { _ = try S3Request(method: "GET", host: host, path: "/") }
        }
        expectRefused("empty name") {
            _ = try S3Request(method: "GET", host: "h", path: "/", query: [URLQueryItem(name: "", value: "v")])
        }
    }

    @Test("headers: bad names, values that could split the request, and the signer's own")
    func headers() {
        for name in ["", "bad name", "x:y", "naïve", "a\nb"] {
            expectRefused("not an HTTP token") {
                _ = try S3Request(method: "GET", host: "h", path: "/", headers: [S3Header(name, "v")])
            }
        }
        for value in ["a\r\nx-evil: 1", "a\nb", "caf\u{E9}", "nul\u{0}", "del\u{7F}"] {
            expectRefused("control character or non-ASCII") {
                _ = try S3Request(method: "GET", host: "h", path: "/", headers: [S3Header("x-amz-meta-a", value)])
            }
        }
        for name in ["Authorization", "X-Amz-Date", "x-amz-content-sha256", "X-AMZ-SECURITY-TOKEN"] {
            expectRefused("set by the signer") {
                _ = try S3Request(method: "GET", host: "h", path: "/", headers: [S3Header(name, "v")])
            }
        }
    }

    @Test("payload hashes that are not 64 hex digits", arguments: [
        "", "abc", String(repeating: "a", count: 63), String(repeating: "a", count: 65), String(repeating: "g", count: 64),
        "UNSIGNED-PAYLOAD",
    ])
    func payloadHashes(_ text: String) {
        expectRefused("64 hex digits") { _ = try PayloadHash(hex: text) }
    }

    @Test("an upper-case payload hash is accepted and lowered")
    func upperCaseHash() throws {
        #expect(try PayloadHash(hex: PayloadHash.emptyBody.value.uppercased()) == .emptyBody)
    }

    @Test("presigning: an expiry outside 1 s to 7 days, a query item named like the signature's")
    func presigning() throws {
        let request = try S3Request(method: "GET", host: "h", path: "/b/k")
        for expires in [0, -1, 604_801] {
            expectRefused("1 to 604800 seconds") { _ = try signer().presign(request, expires: expires) }
        }
        for name in ["X-Amz-Signature", "x-amz-credential", "X-Amz-Security-Token", "X-AMZ-EXPIRES"] {
            let clashing = try S3Request(method: "GET", host: "h", path: "/", query: [URLQueryItem(name: name, value: "x")])
            expectRefused("written by the signer") { _ = try signer().presign(clashing, expires: 60) }
        }
    }

    @Test("signing times before 1970 or after 9999", arguments: [-1, 253_402_300_800, Double.infinity, -Double.infinity])
    func times(_ seconds: Double) throws {
        let request = try S3Request(method: "GET", host: "h", path: "/")
        let date = Date(timeIntervalSince1970: seconds)
        expectRefused("outside 1970-01-01 to 9999-12-31") { _ = try signer().sign(request, payload: .emptyBody, date: date) }
        expectRefused("outside 1970-01-01 to 9999-12-31") { _ = try signer().presign(request, expires: 60, date: date) }
    }
}
