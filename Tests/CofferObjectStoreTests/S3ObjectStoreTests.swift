import CofferCrypto
import CofferObjectStore
import CofferS3
import Foundation
import Testing

@Suite("S3 object store against a real server", .enabled(if: S3TestServer.available))
struct S3ObjectStoreTests {
    @Test("put, get and range get byte for byte; keys with spaces, '+', unicode; delete; missing is not-found")
    func roundTrip() async throws {
        let store = try await S3TestServer.store(prefix: "segments/")
        let bytes = try SecureRandom.bytes(1 << 20)
        for key in ["v1/obj_1/0", "a b+c/é~ü/%2F"] {
            try await store.put(key, bytes: bytes)
            #expect(try await store.get(key) == bytes)
            #expect(try await store.get(key, range: 1000...1999) == Array(bytes[1000...1999]))
        }
        try await store.delete("v1/obj_1/0")
        await #expect(throws: CofferError.self) { _ = try await store.get("v1/obj_1/0") }
        do { _ = try await store.get("never-written"); Issue.record("no error") } catch let error as CofferError {
            #expect(error.code == .notFound)
        }
        try await store.delete("never-written")  // deleting nothing is fine
    }

    @Test("listing pages through every key under a prefix, in order, without the store's prefix")
    func listing() async throws {
        let store = try await S3TestServer.store(prefix: "p/")
        let keys = (0..<5).map { "k/\($0)" } + ["other/x"]
        for key in keys { try await store.put(key, bytes: Array(key.utf8)) }
        var seen: [S3ObjectInfo] = []
        var token: String?
        repeat {
            let page = try await store.list(prefix: "k/", continuationToken: token, maxKeys: 2)
            #expect(page.objects.count <= 2)
            seen += page.objects
            token = page.continuationToken
        } while token != nil
        #expect(seen.map(\.key) == (0..<5).map { "k/\($0)" })
        #expect(seen.allSatisfy { $0.size == 3 })
    }

    @Test("a wrong secret is refused by the server, and the error names neither secret")
    func badSignature() async throws {
        let good = try await S3TestServer.store()
        try await good.put("x", bytes: [1])
        let bad = try S3ObjectStore(location: good.location,
                                    credentials: try S3Credentials(accessKeyID: S3TestServer.environment["COFFER_TEST_S3_ACCESS_KEY_ID"] ?? "",
                                                                   secretAccessKey: "not-the-secret-at-all"),
                                    retry: RetryPolicy(attempts: 1))
        do { _ = try await bad.get("x"); Issue.record("a bad signature was accepted") } catch let error as CofferError {
            #expect(error.code == .storage)
            #expect(error.message.contains("403"))
            #expect(!error.message.contains("not-the-secret-at-all"))
            #expect(!error.message.contains(S3TestServer.environment["COFFER_TEST_S3_SECRET_ACCESS_KEY"] ?? "unset"))
        }
    }
}

@Suite("S3 object store without a server")
struct S3ObjectStoreOfflineTests {
    @Test("a server that is not there: every attempt made, then a storage error naming the operation")
    func unreachable() async throws {
        let location = try S3Location(parsing: "s3://bucket-x", endpoint: "http://127.0.0.1:9", region: "us-east-1")
        let store = try S3ObjectStore(location: location, credentials: try S3Credentials(accessKeyID: "AKID", secretAccessKey: "secret"),
                                      retry: RetryPolicy(attempts: 3, baseDelay: .milliseconds(5), maximumDelay: .milliseconds(20), timeout: .seconds(2)))
        do { try await store.put("k", bytes: [1]); Issue.record("no error") } catch let error as CofferError {
            #expect(error.code == .storage)
            #expect(error.message.contains("after 3 attempts"), "\(error.message)")
            #expect(error.message.contains("PUT k"))
        }
    }

    @Test("locations: s3://BUCKET[/PREFIX] with an http(s) endpoint; malformed ones are refused")
    func locations() throws {
        let location = try S3Location(parsing: "s3://coffer-eu/vault/a", endpoint: "http://127.0.0.1:8333", region: "eu-west-1")
        #expect(location.bucket == "coffer-eu" && location.prefix == "vault/a/" && location.port == 8333 && location.scheme == "http")
        #expect(try S3Location(parsing: "s3://coffer", endpoint: "https://s3.example.com", region: "us-east-1").prefix == "")
        for (bad, endpoint) in [("coffer", "http://h"), ("s3://UPPER", "http://h"), ("s3://ab", "http://h"), ("s3://-x-", "http://h"),
                                ("s3://ok-bucket", "ftp://h"), ("s3://ok-bucket", "http://user:pw@h"), ("s3://ok-bucket", "http://h/path"),
                                ("s3://ok-bucket/\u{1}", "http://h")] {
            #expect(throws: CofferError.self, "\(bad) \(endpoint)") { _ = try S3Location(parsing: bad, endpoint: endpoint, region: "us-east-1") }
        }
        #expect(throws: CofferError.self) { _ = try S3Location(parsing: "s3://ok-bucket", endpoint: "http://h", region: "") }
    }

    @Test("keys with control characters, '..' segments or a leading '/' are refused before any request")
    func badKeys() async throws {
        let location = try S3Location(parsing: "s3://bucket-x", endpoint: "http://127.0.0.1:9", region: "us-east-1")
        let store = try S3ObjectStore(location: location, credentials: try S3Credentials(accessKeyID: "AKID", secretAccessKey: "secret"),
                                      retry: RetryPolicy(attempts: 1))
        for key in ["", "/abs", "a/../b", "a\nb", String(repeating: "k", count: 901)] {
            do { _ = try await store.get(key); Issue.record("\(key) accepted") } catch let error as CofferError {
                #expect(error.code == .invalidArgument)
            }
        }
    }
}
