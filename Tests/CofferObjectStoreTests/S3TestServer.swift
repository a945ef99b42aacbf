import CofferCrypto
import CofferObjectStore
import CofferS3
import Foundation
import Testing

/// The S3 server `.ci/run` starts (`scripts/ci-services.sh`), from the variables it writes.
enum S3TestServer {
    static let environment = ProcessInfo.processInfo.environment

    /// Whether the variables name a server.
    static var available: Bool { environment["COFFER_TEST_S3_ENDPOINT"] != nil }

    /// A store on a new bucket of the test server.
    static func store(prefix: String = "", secret: String? = nil, retry: RetryPolicy = RetryPolicy()) async throws -> S3ObjectStore {
        let bucket = "coffer-test-" + (try SecureRandom.bytes(6)).map { String(format: "%02x", $0) }.joined()
        let location = try S3Location(parsing: "s3://\(bucket)/\(prefix)", endpoint: environment["COFFER_TEST_S3_ENDPOINT"] ?? "",
                                      region: environment["COFFER_TEST_S3_REGION"] ?? "us-east-1")
        let credentials = try S3Credentials(accessKeyID: environment["COFFER_TEST_S3_ACCESS_KEY_ID"] ?? "",
                                            secretAccessKey: secret ?? environment["COFFER_TEST_S3_SECRET_ACCESS_KEY"] ?? "")
        let store = try S3ObjectStore(location: location, credentials: credentials, retry: retry)
        if secret == nil { try await store.createBucket() }
        return store
    }
}

@Suite("The S3 test server is there in CI")
struct S3ServerPresenceTests {
    @Test("CI provides the S3 server (COFFER_TEST_S3_ENDPOINT); elsewhere the server tests are skipped")
    func presentInCI() {
        if S3TestServer.environment["CI"] == "true" { #expect(S3TestServer.available, "CI must start the S3 server (scripts/ci-services.sh)") }
    }
}
