import Foundation
import Testing
import CofferCrypto
@testable import CofferS3

// The canonical pieces one by one: encoding, the query string, header values, the time stamp, and
// the headers the signer adds.

@Suite("SigV4 canonical pieces")
struct CanonicalTests {
    @Test("URI encoding keeps exactly the unreserved characters (and `/` in a path), upper-case hex")
    func encodingOfEveryASCIICharacter() {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        for value in 0..<128 {
            let character = Character(Unicode.Scalar(UInt8(value)))
            let text = String(character)
            let escaped = String(format: "%%%02X", value)
            #expect(URIEncoding.query(text) == (unreserved.contains(character) ? text : escaped))
            #expect(URIEncoding.path(text) == (unreserved.contains(character) || character == "/" ? text : escaped))
        }
    }

    @Test("a path is encoded once, segment by segment, without normalization")
    func paths() {
        #expect(SigV4.canonicalURI("/bucket/a b+c=d&e.txt") == "/bucket/a%20b%2Bc%3Dd%26e.txt")
        #expect(SigV4.canonicalURI("/bucket/100%/a%20b") == "/bucket/100%25/a%2520b")
        #expect(SigV4.canonicalURI("/bucket//a///b/") == "/bucket//a///b/")
        #expect(SigV4.canonicalURI("/bucket/./a/../b") == "/bucket/./a/../b")
        #expect(SigV4.canonicalURI("/bucket/~user") == "/bucket/~user")
        #expect(SigV4.canonicalURI("/") == "/")
        // UTF-8 bytes of the scalars as given: composed and decomposed é differ.
        #expect(SigV4.canonicalURI("/caf\u{E9}") == "/caf%C3%A9")
        #expect(SigV4.canonicalURI("/cafe\u{301}") == "/cafe%CC%81")
        #expect(SigV4.canonicalURI("/😀") == "/%F0%9F%98%80")
    }

    @Test("the query string is sorted by encoded name, then value; `=` always present")
    func queryString() {
        #expect(SigV4.canonicalQuery([]) == "")
        #expect(SigV4.canonicalQuery([("uploads", "")]) == "uploads=")
        #expect(SigV4.canonicalQuery([("b", "2"), ("a", "2"), ("a", "1"), ("a-b", "")]) == "a=1&a=2&a-b=&b=2")
        // Sorting the joined `name=value` texts would put `a-b=1` first ('-' < '=').
        #expect(SigV4.canonicalQuery([("a-b", "1"), ("a", "2")]) == "a=2&a-b=1")
        // Byte order of the encoded text: upper case before lower case, `%` before letters.
        #expect(SigV4.canonicalQuery([("a", "x"), ("B", "y"), (" ", "z")]) == "%20=z&B=y&a=x")
        #expect(SigV4.canonicalQuery([("prefix", "a b/c+d"), ("list-type", "2")]) == "list-type=2&prefix=a%20b%2Fc%2Bd")
    }

    @Test("header values are trimmed and inner runs of spaces and tabs become one space")
    func headerValues() {
        #expect(SigV4.trimmed("  a   b\t\tc  ") == "a b c")
        #expect(SigV4.trimmed("bytes=0-9") == "bytes=0-9")
        #expect(SigV4.trimmed("   ") == "")
        #expect(SigV4.trimmed("") == "")
    }

    @Test("canonical headers: lower-case names sorted, repeats joined by `,`, hop-by-hop headers left out")
    func canonicalHeaders() {
        let (lines, signed) = SigV4.canonicalHeaders([
            S3Header("X-Amz-Meta-B", " 2 "), S3Header("Host", "h"), S3Header("x-amz-meta-b", "1  1"),
            S3Header("User-Agent", "coffer"), S3Header("Connection", "close"), S3Header("Content-Type", "text/plain"),
        ])
        #expect(lines == "content-type:text/plain\nhost:h\nx-amz-meta-b:2,1 1\n")
        #expect(signed == "content-type;host;x-amz-meta-b")
    }

    @Test("the time stamp is UTC, whole seconds, and agrees with the Gregorian calendar")
    func timeStamps() throws {
        #expect(try SigningTime(Date(timeIntervalSince1970: 0)).stamp == "19700101T000000Z")
        #expect(try SigningTime(Date(timeIntervalSince1970: 951_782_400)).stamp == "20000229T000000Z")
        #expect(try SigningTime(Date(timeIntervalSince1970: 1_709_210_096.999)).stamp == "20240229T123456Z")
        #expect(try SigningTime(Date(timeIntervalSince1970: 253_402_300_799)).stamp == "99991231T235959Z")
        #expect(try SigningTime(Date(timeIntervalSince1970: 1_369_353_600)).day == "20130524")
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        for seconds in stride(from: 0, to: 4_200_000_000, by: 3_198_977) {
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            let expected = String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
            #expect(try SigningTime(date).stamp == expected)
        }
    }

    @Test("the signer adds host only when missing, and the token only with temporary credentials")
    func addedHeaders() throws {
        let permanent = try SigV4(region: "us-east-1", credentials: S3Credentials(accessKeyID: "AK", secretAccessKey: "s"))
        let temporary = try SigV4(region: "us-east-1", credentials: S3Credentials(
            accessKeyID: "AK", secretAccessKey: "s", sessionToken: "token+/="))
        let date = Date(timeIntervalSince1970: 1_369_353_600)
        let bare = try S3Request(method: "GET", scheme: .http, host: "127.0.0.1", port: 8333, path: "/b/k")
        let names = try permanent.sign(bare, payload: .emptyBody, date: date).headers.map(\.name)
        #expect(names == ["host", "x-amz-date", "x-amz-content-sha256", "authorization"])
        #expect(try permanent.sign(bare, payload: .emptyBody, date: date).headers.first?.value == "127.0.0.1:8333")
        let withHost = try S3Request(method: "GET", host: "h.example", path: "/", headers: [S3Header("HOST", "h.example")])
        let signed = try temporary.sign(withHost, payload: .unsigned, date: date)
        #expect(signed.headers.map(\.name) == ["x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "authorization"])
        #expect(signed.headers[1].value == "UNSIGNED-PAYLOAD")
        #expect(signed.headers[2].value == "token+/=")
        #expect(signed.canonicalRequest.hasSuffix("\nhost;x-amz-content-sha256;x-amz-date;x-amz-security-token\nUNSIGNED-PAYLOAD"))
    }

    @Test("hosts and URLs: lower case, IPv6 in brackets, a default port kept in the URL but not in host")
    func hostsAndURLs() throws {
        let upper = try S3Request(method: "GET", host: "S3.Example.COM", path: "/b/a b")
        #expect(upper.host == "s3.example.com")
        #expect(upper.url == "https://s3.example.com/b/a%20b")
        let ipv6 = try S3Request(method: "GET", scheme: .http, host: "::1", port: 9000, path: "/")
        #expect(ipv6.host == "[::1]" && ipv6.hostHeader == "[::1]:9000" && ipv6.url == "http://[::1]:9000/")
        let explicit = try S3Request(method: "GET", host: "h", port: 443, path: "/", query: [
            URLQueryItem(name: "uploads", value: nil), URLQueryItem(name: "b", value: "x y"),
        ])
        #expect(explicit.hostHeader == "h" && explicit.url == "https://h:443/?uploads=&b=x%20y")
    }

    @Test("presigning keeps repeated query names, in order in the URL, sorted in the signature")
    func presignRepeatedNames() throws {
        let signer = try SigV4(region: "us-east-1", credentials: S3Credentials(accessKeyID: "AK", secretAccessKey: "s"))
        let request = try S3Request(method: "GET", host: "h", path: "/b", query: [
            URLQueryItem(name: "tag", value: "b"), URLQueryItem(name: "tag", value: "a"),
        ])
        let url = try signer.presign(request, expires: 60, date: Date(timeIntervalSince1970: 0))
        #expect(url.hasPrefix("https://h/b?tag=b&tag=a&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F19700101%2F"))
        let swapped = try S3Request(method: "GET", host: "h", path: "/b", query: request.query.reversed())
        let other = try signer.presign(swapped, expires: 60, date: Date(timeIntervalSince1970: 0))
        #expect(url.suffix(64) == other.suffix(64), "the order of the query items is not signed")
    }

    @Test("descriptions never show the secret, the token or the signature")
    func redaction() throws {
        let credentials = try S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "very-secret-key",
                                            sessionToken: "very-secret-token")
        let signed = try SigV4(region: "us-east-1", credentials: credentials).sign(
            try S3Request(method: "GET", host: "h", path: "/"), payload: .emptyBody, date: Date(timeIntervalSince1970: 0))
        for text in ["\(credentials)", String(reflecting: credentials), "\(signed)"] {
            #expect(!text.contains("very-secret"))
            #expect(!text.contains(signed.signature))
        }
        #expect("\(credentials)".contains("AKIDEXAMPLE"))
    }
}
